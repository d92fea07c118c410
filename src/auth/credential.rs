//! Building a token provider for a sign-in method, on azure_identity's credentials, and
//! turning the SDK's errors into [`AuthError`]s that explain themselves.

use super::aadsts::{self, SignInContext};
use super::assertions::{self, CertificateAssertion, GithubAssertion, PresentedSlot};
use super::chain::{self, Lookup};
use super::error::{PresentedAssertion, redact};
use super::tokens::{AccessToken, TokenProvider};
use super::{AuthError, AuthMethod, AzureSettings, device_code, http};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzurePipelinesCredential,
    AzurePipelinesCredentialOptions, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

type Factory = Box<dyn Fn() -> Result<Arc<dyn TokenCredential>, AuthError> + Send + Sync>;

/// Where to find the claims of the assertion presented, for error messages.
enum Presented {
    None,
    Slot(PresentedSlot),
    File(PathBuf),
}

/// A provider on an azure_identity credential; rebuilt (empty SDK cache) when `fresh` is asked.
struct SdkProvider {
    method: AuthMethod,
    ctx: SignInContext,
    authority: String,
    factory: Factory,
    current: Mutex<Arc<dyn TokenCredential>>,
    presented: Presented,
}

#[async_trait::async_trait]
impl TokenProvider for SdkProvider {
    async fn fetch(&self, scope: &str, fresh: bool) -> Result<AccessToken, AuthError> {
        let credential = if fresh {
            let c = (self.factory)()?;
            if let Ok(mut current) = self.current.lock() {
                *current = c.clone();
            }
            c
        } else {
            match self.current.lock() {
                Ok(c) => c.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            }
        };
        match credential.get_token(&[scope], None).await {
            Ok(token) => Ok(token.into()),
            Err(e) => Err(self.map_error(&e)),
        }
    }

    fn method(&self) -> AuthMethod {
        self.method
    }
}

impl SdkProvider {
    fn presented(&self) -> Option<PresentedAssertion> {
        match &self.presented {
            Presented::None => None,
            Presented::Slot(slot) => slot.lock().ok().and_then(|s| s.clone()),
            Presented::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|t| assertions::presented_claims(t.trim())),
        }
    }

    fn map_error(&self, err: &azure_core::Error) -> AuthError {
        let mut ctx = self.ctx.clone();
        ctx.presented = self.presented();
        map_sdk_error(err, &ctx, self.method, &self.authority)
    }
}

/// Converts an SDK error: our own errors pass through, Entra's get explained.
pub(crate) fn map_sdk_error(
    err: &azure_core::Error,
    ctx: &SignInContext,
    method: AuthMethod,
    authority: &str,
) -> AuthError {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut connection = false;
    while let Some(e) = current {
        if let Some(ours) = e.downcast_ref::<AuthError>() {
            return ours.clone();
        }
        if let Some(sdk) = e.downcast_ref::<azure_core::Error>() {
            match sdk.kind() {
                ErrorKind::HttpResponse {
                    status,
                    raw_response,
                    ..
                } => {
                    let body = raw_response
                        .as_ref()
                        .map(|r| r.body().as_ref().to_vec())
                        .unwrap_or_default();
                    if let Some(entra) = aadsts::from_response(&body, ctx) {
                        return entra;
                    }
                    return non_entra_http_error(method, u16::from(*status), &body);
                }
                ErrorKind::Connection | ErrorKind::Io => connection = true,
                _ => {}
            }
        }
        current = e.source();
    }
    if connection {
        let what = match method {
            AuthMethod::ManagedIdentity => "the managed identity endpoint",
            AuthMethod::AzurePipelines => "Entra ID or the Azure DevOps OIDC endpoint",
            _ => "Entra ID",
        };
        return AuthError::Unreachable {
            what: what.into(),
            url: authority.to_string(),
            detail: redact(&err.to_string()),
        };
    }
    let message = redact(&err.to_string());
    match method {
        AuthMethod::AzureCli => AuthError::TokenSource {
            provider: "Azure CLI".into(),
            message,
            fix: "run `az login` (with --tenant for the cluster's tenant) and check `az account get-access-token` works".into(),
        },
        AuthMethod::ManagedIdentity => AuthError::TokenSource {
            provider: "managed identity".into(),
            message,
            fix: "run on an Azure resource with a managed identity; for a user-assigned identity pass its client id with --client-id".into(),
        },
        _ => AuthError::Credential { method, message },
    }
}

fn non_entra_http_error(method: AuthMethod, status: u16, body: &[u8]) -> AuthError {
    let snippet: String = redact(&String::from_utf8_lossy(body))
        .chars()
        .take(300)
        .collect();
    match method {
        AuthMethod::AzurePipelines => AuthError::TokenSource {
            provider: "Azure DevOps OIDC token request".into(),
            message: format!("Azure DevOps answered HTTP {status}: {snippet}"),
            fix: "check the service connection id, that the pipeline is authorized to use that service connection, and that SYSTEM_ACCESSTOKEN is mapped into the step's environment (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))".into(),
        },
        AuthMethod::ManagedIdentity => AuthError::TokenSource {
            provider: "managed identity endpoint".into(),
            message: format!("answered HTTP {status}: {snippet}"),
            fix: "check that the resource has the managed identity assigned; for a user-assigned identity pass its client id with --client-id".into(),
        },
        _ => AuthError::Credential {
            method,
            message: format!("Entra ID answered HTTP {status}: {snippet}"),
        },
    }
}

fn need(value: Option<String>, what: &str, flag: &str, env: &str) -> Result<String, AuthError> {
    value.ok_or_else(|| AuthError::Config {
        message: format!("no {what} is configured"),
        fix: format!("pass {flag} or set {env}"),
    })
}

fn sdk(method: AuthMethod) -> impl Fn(azure_core::Error) -> AuthError {
    move |e| AuthError::Credential {
        method,
        message: redact(&e.to_string()),
    }
}

/// Resolves Auto, and builds the provider for the method.
pub(crate) fn provider(
    settings: &AzureSettings,
    http_client: &reqwest::Client,
) -> Result<Arc<dyn TokenProvider>, AuthError> {
    let env: Lookup<'_> = &chain::process_env;
    let method = match settings.auth {
        AuthMethod::Auto => {
            let (method, reason) = chain::choose(settings, env, chain::az_on_path())?;
            tracing::info!(method = %method, reason, "signing in to Azure with {method} ({reason})");
            method
        }
        explicit => {
            tracing::info!(method = %explicit, "signing in to Azure with {explicit}");
            explicit
        }
    };
    if method == AuthMethod::DeviceCode {
        return Ok(Arc::new(device_code::DeviceCodeProvider::new(
            settings,
            http_client.clone(),
            env,
        )?));
    }
    let options = http::client_options(settings, http_client)?;
    let authority = settings.authority_host()?;
    let tenant = chain::tenant_id(settings, env);
    let client = chain::client_id(settings, env);
    let ctx = SignInContext {
        method: Some(method),
        tenant_id: tenant.clone().unwrap_or_default(),
        client_id: client.clone().unwrap_or_default(),
        presented: None,
    };
    let (factory, presented): (Factory, Presented) = match method {
        AuthMethod::GithubOidc => {
            let tenant = need(tenant, "tenant id", "--tenant-id", "AZURE_TENANT_ID")?;
            let client = need(client, "client id", "--client-id", "AZURE_CLIENT_ID")?;
            let gh_fix = "GitHub sets ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN only for jobs with `permissions: id-token: write`";
            let url = env("ACTIONS_ID_TOKEN_REQUEST_URL").ok_or_else(|| AuthError::Config {
                message: "ACTIONS_ID_TOKEN_REQUEST_URL is not set".into(),
                fix: gh_fix.into(),
            })?;
            let token = env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").ok_or_else(|| AuthError::Config {
                message: "ACTIONS_ID_TOKEN_REQUEST_TOKEN is not set".into(),
                fix: gh_fix.into(),
            })?;
            let slot: PresentedSlot = Arc::new(Mutex::new(None));
            let http_client = http_client.clone();
            let factory_slot = slot.clone();
            let factory: Factory = Box::new(move || {
                let assertion = GithubAssertion::new(
                    &url,
                    token.clone(),
                    http_client.clone(),
                    factory_slot.clone(),
                )?;
                let credential = ClientAssertionCredential::new(
                    tenant.clone(),
                    client.clone(),
                    assertion,
                    Some(ClientAssertionCredentialOptions {
                        client_options: options.clone(),
                    }),
                )
                .map_err(sdk(AuthMethod::GithubOidc))?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::Slot(slot))
        }
        AuthMethod::AzurePipelines => {
            let tenant = need(tenant, "tenant id", "--tenant-id", "AZURE_TENANT_ID")?;
            let client = need(client, "client id", "--client-id", "AZURE_CLIENT_ID")?;
            let connection = need(
                chain::service_connection_id(settings, env),
                "Azure DevOps service connection id",
                "--service-connection-id",
                "AZURE_SERVICE_CONNECTION_ID",
            )?;
            if env("SYSTEM_OIDCREQUESTURI").is_none() {
                return Err(AuthError::Config {
                    message: "SYSTEM_OIDCREQUESTURI is not set".into(),
                    fix: "run inside an Azure Pipelines job (it sets SYSTEM_OIDCREQUESTURI)".into(),
                });
            }
            let access_token = env("SYSTEM_ACCESSTOKEN").ok_or_else(|| AuthError::Config {
                message: "SYSTEM_ACCESSTOKEN is not set".into(),
                fix: "map it into the step: env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }"
                    .into(),
            })?;
            let factory: Factory = Box::new(move || {
                let credential = AzurePipelinesCredential::new(
                    tenant.clone(),
                    client.clone(),
                    &connection,
                    Secret::new(access_token.clone()),
                    Some(AzurePipelinesCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: options.clone(),
                        },
                    }),
                )
                .map_err(sdk(AuthMethod::AzurePipelines))?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::None)
        }
        AuthMethod::WorkloadIdentity => {
            let tenant = need(tenant, "tenant id", "--tenant-id", "AZURE_TENANT_ID")?;
            let client = need(client, "client id", "--client-id", "AZURE_CLIENT_ID")?;
            let file = PathBuf::from(need(
                env("AZURE_FEDERATED_TOKEN_FILE"),
                "federated token file",
                "the workload identity webhook",
                "AZURE_FEDERATED_TOKEN_FILE",
            )?);
            let factory_file = file.clone();
            let factory: Factory = Box::new(move || {
                let credential =
                    WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: options.clone(),
                        },
                        client_id: Some(client.clone()),
                        tenant_id: Some(tenant.clone()),
                        token_file_path: Some(factory_file.clone()),
                    }))
                    .map_err(sdk(AuthMethod::WorkloadIdentity))?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::File(file))
        }
        AuthMethod::ClientSecret => {
            let tenant = need(tenant, "tenant id", "--tenant-id", "AZURE_TENANT_ID")?;
            let client = need(client, "client id", "--client-id", "AZURE_CLIENT_ID")?;
            let secret = Secret::new(need(
                env("AZURE_CLIENT_SECRET"),
                "client secret",
                "the environment (never a flag)",
                "AZURE_CLIENT_SECRET",
            )?);
            let factory: Factory = Box::new(move || {
                let credential = ClientSecretCredential::new(
                    &tenant,
                    client.clone(),
                    secret.clone(),
                    Some(ClientSecretCredentialOptions {
                        client_options: options.clone(),
                    }),
                )
                .map_err(sdk(AuthMethod::ClientSecret))?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::None)
        }
        AuthMethod::ClientCertificate => {
            let tenant = need(tenant, "tenant id", "--tenant-id", "AZURE_TENANT_ID")?;
            let client = need(client, "client id", "--client-id", "AZURE_CLIENT_ID")?;
            let path = PathBuf::from(need(
                env("AZURE_CLIENT_CERTIFICATE_PATH"),
                "client certificate",
                "the environment",
                "AZURE_CLIENT_CERTIFICATE_PATH",
            )?);
            if env("AZURE_CLIENT_CERTIFICATE_PASSWORD").is_some() {
                return Err(AuthError::Config {
                    message: "AZURE_CLIENT_CERTIFICATE_PASSWORD is set, but kpush reads only unencrypted PEM certificates".into(),
                    fix: "convert: `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`, point AZURE_CLIENT_CERTIFICATE_PATH at it and unset the password".into(),
                });
            }
            let send_chain = env("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
            let endpoint = format!("{authority}/{tenant}/oauth2/v2.0/token");
            // Validate the file now so configuration errors surface before any request.
            CertificateAssertion::from_pem_file(&path, &client, endpoint.clone(), send_chain)?;
            let factory: Factory = Box::new(move || {
                let assertion = CertificateAssertion::from_pem_file(
                    &path,
                    &client,
                    endpoint.clone(),
                    send_chain,
                )?;
                let credential = ClientAssertionCredential::new(
                    tenant.clone(),
                    client.clone(),
                    assertion,
                    Some(ClientAssertionCredentialOptions {
                        client_options: options.clone(),
                    }),
                )
                .map_err(sdk(AuthMethod::ClientCertificate))?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::None)
        }
        AuthMethod::ManagedIdentity => {
            let user_assigned = client.clone().map(UserAssignedId::ClientId);
            let factory: Factory = Box::new(move || {
                let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: user_assigned.clone(),
                    client_options: options.clone(),
                }))
                .map_err(|e| AuthError::TokenSource {
                    provider: "managed identity".into(),
                    message: redact(&e.to_string()),
                    fix: "kpush supports App Service/Functions (IDENTITY_ENDPOINT + IDENTITY_HEADER) and VM (IMDS) managed identities".into(),
                })?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::None)
        }
        AuthMethod::AzureCli => {
            let tenant = tenant.clone();
            let factory: Factory = Box::new(move || {
                let credential = AzureCliCredential::new(Some(AzureCliCredentialOptions {
                    tenant_id: tenant.clone(),
                    ..AzureCliCredentialOptions::default()
                }))
                .map_err(sdk(AuthMethod::AzureCli))?;
                Ok(credential as Arc<dyn TokenCredential>)
            });
            (factory, Presented::None)
        }
        AuthMethod::Auto | AuthMethod::DeviceCode => {
            return Err(AuthError::Config {
                message: format!("internal: {method} reached the SDK builder"),
                fix: "report this as a kpush bug".into(),
            });
        }
    };
    let current = factory()?;
    Ok(Arc::new(SdkProvider {
        method,
        ctx,
        authority,
        factory,
        current: Mutex::new(current),
        presented,
    }))
}
