//! Plain explanations and likely fixes for the Entra ID (AADSTS) errors CI sign-ins hit.

use super::AuthMethod;
use super::error::{AuthError, PresentedAssertion, redact};
use serde_json::Value;

/// What an AADSTS code means and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advice {
    pub explanation: String,
    pub fix: String,
}

/// Where an error came from, to tailor the fix.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignInContext {
    pub method: Option<AuthMethod>,
    pub tenant_id: String,
    pub client_id: String,
    pub presented: Option<PresentedAssertion>,
}

/// The numeric code at the start of an `error_description` (`AADSTS700213: …` → 700213).
pub(crate) fn code_of(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The subject Entra quotes in federated-credential errors (`… subject 'X'.`).
fn quoted_subject(description: &str) -> Option<String> {
    let start = description.find("subject '")? + "subject '".len();
    let end = description[start..].find('\'')?;
    Some(description[start..start + end].to_string())
}

fn subject_formats(method: Option<AuthMethod>) -> &'static str {
    match method {
        Some(AuthMethod::AzurePipelines) => {
            "Azure DevOps subjects look like sc://ORG/PROJECT/SERVICE_CONNECTION"
        }
        Some(AuthMethod::WorkloadIdentity) => {
            "Kubernetes subjects look like system:serviceaccount:NAMESPACE:NAME"
        }
        _ => {
            "GitHub subjects look like repo:ORG/REPO:ref:refs/heads/main (a branch), repo:ORG/REPO:environment:NAME (a job with `environment:`), repo:ORG/REPO:pull_request or repo:ORG/REPO:ref:refs/tags/TAG"
        }
    }
}

/// The explanation and fix for `code`.
pub(crate) fn advice(code: u32, ctx: &SignInContext, description: &str) -> Advice {
    let app = if ctx.client_id.is_empty() {
        "the application".to_string()
    } else {
        format!("application {}", ctx.client_id)
    };
    let presented_subject = ctx
        .presented
        .as_ref()
        .map(|p| p.subject.clone())
        .or_else(|| quoted_subject(description))
        .unwrap_or_else(|| "(unknown)".to_string());
    let issuer = ctx
        .presented
        .as_ref()
        .map(|p| p.issuer.clone())
        .unwrap_or_else(|| "the token's issuer".to_string());
    let (explanation, fix): (String, String) = match code {
        700213 | 7002137 | 70021 => (
            format!(
                "no federated credential on {app} matches the presented subject '{presented_subject}'"
            ),
            format!(
                "add a federated credential to {app} with issuer '{issuer}', subject '{presented_subject}' and audience api://AzureADTokenExchange, or run the job from the branch/environment the existing credential names. Matching is exact and case-sensitive; {}",
                subject_formats(ctx.method)
            ),
        ),
        7002138 => (
            format!(
                "the presented subject '{presented_subject}' matches a federated credential on {app} only when case is ignored; Entra compares case-sensitively"
            ),
            format!(
                "fix the capitalisation of the federated credential's subject (organisation, repository and environment names included) to exactly '{presented_subject}'"
            ),
        ),
        700211 => (
            format!("no federated credential on {app} trusts the issuer '{issuer}'"),
            format!(
                "add a federated credential with issuer '{issuer}' (GitHub: https://token.actions.githubusercontent.com, no trailing slash) to {app}"
            ),
        ),
        700212 => (
            format!("no federated credential on {app} accepts the token's audience"),
            "set the federated credential's audience to api://AzureADTokenExchange (kpush requests tokens for that audience)".to_string(),
        ),
        700024 => (
            "the client assertion has expired or is not yet valid".to_string(),
            "check the machine's clock; for workload identity make sure the projected token file is refreshed (kpush re-reads it on every request); GitHub and Azure DevOps tokens are fetched fresh for every request".to_string(),
        ),
        50013 | 700027 if ctx.method == Some(AuthMethod::ClientCertificate) || code == 700027 => (
            format!("the certificate that signed the assertion is not registered on {app}, or the signature does not verify"),
            format!(
                "upload the certificate's public part to {app} (Certificates & secrets) and make sure AZURE_CLIENT_CERTIFICATE_PATH holds the matching private key"
            ),
        ),
        50013 => (
            "the federated token's signature does not verify against its issuer's published keys".to_string(),
            "the token was not issued by the configured issuer (or was tampered with); check the federated credential's issuer URL".to_string(),
        ),
        7000215 => (
            format!("the client secret is wrong for {app}"),
            "use the secret's Value, not its Secret ID; create a new secret if it was lost, and update AZURE_CLIENT_SECRET".to_string(),
        ),
        7000222 => (
            format!("the client secret of {app} has expired"),
            "create a new client secret on the app registration and update AZURE_CLIENT_SECRET".to_string(),
        ),
        7000218 => (
            format!("{app} is a confidential client but no secret, certificate or federated token was sent"),
            "configure a credential: AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, or a federated credential (GitHub OIDC, Azure Pipelines, workload identity)".to_string(),
        ),
        700016 => (
            format!(
                "{app} does not exist in tenant {}",
                if ctx.tenant_id.is_empty() { "(unknown)" } else { &ctx.tenant_id }
            ),
            "check AZURE_CLIENT_ID (the Application (client) ID, not the object id) and AZURE_TENANT_ID; both must come from the same tenant and cloud".to_string(),
        ),
        90002 => (
            format!("tenant '{}' does not exist in this cloud", ctx.tenant_id),
            "check AZURE_TENANT_ID (Directory (tenant) ID) and --cloud; a US Government or China tenant needs --cloud AzureUSGovernment or AzureChinaCloud".to_string(),
        ),
        50059 => (
            "no tenant was given".to_string(),
            "pass --tenant-id or set AZURE_TENANT_ID".to_string(),
        ),
        7000229 => (
            format!("{app} has no service principal (enterprise application) in the tenant"),
            format!(
                "create it: az ad sp create --id {}",
                if ctx.client_id.is_empty() { "CLIENT_ID" } else { &ctx.client_id }
            ),
        ),
        500011 => (
            "the resource the token was asked for does not exist in the tenant".to_string(),
            "check --cloud and the tenant; AKS tokens use scope 6dae42f8-4368-4678-94ff-3960e28e3630/.default and ARM tokens the cloud's management endpoint".to_string(),
        ),
        1002012 => (
            "the requested scope is invalid for this flow".to_string(),
            "service principals must ask for RESOURCE/.default scopes".to_string(),
        ),
        50027 => (
            "the client assertion is not a well-formed JWT".to_string(),
            "check that the federated token file or CI token endpoint returns a JWT".to_string(),
        ),
        700021 | 700023 => (
            "the certificate assertion names another application or token endpoint".to_string(),
            "make sure --client-id / AZURE_CLIENT_ID and --tenant-id match the certificate's app registration".to_string(),
        ),
        53003 => (
            "a Conditional Access policy blocked the sign-in".to_string(),
            "ask a tenant administrator to exempt this identity or location from the policy".to_string(),
        ),
        50076 | 50079 => (
            "multi-factor authentication is required".to_string(),
            "sign in interactively with --auth device-code (or az login) to complete MFA".to_string(),
        ),
        65001 => (
            "the application has not been granted consent".to_string(),
            "ask a tenant administrator to grant admin consent for the application".to_string(),
        ),
        70016 => (
            "the device-code sign-in has not been completed yet".to_string(),
            "finish signing in in the browser".to_string(),
        ),
        70020 => (
            "the device code expired before the sign-in was completed".to_string(),
            "run the command again and complete the sign-in within 15 minutes".to_string(),
        ),
        70000 | 700082 | 50173 | 9002313 => (
            "the sign-in grant (device code or cached refresh token) is invalid, declined or expired".to_string(),
            "run the command again to sign in afresh (kpush discards the cached sign-in)".to_string(),
        ),
        _ => (
            "Entra ID refused the sign-in".to_string(),
            format!("look up AADSTS{code} at https://login.microsoftonline.com/error?code={code}"),
        ),
    };
    Advice { explanation, fix }
}

/// Builds an [`AuthError::Entra`] from an Entra error response body, if it is one.
pub(crate) fn from_response(body: &[u8], ctx: &SignInContext) -> Option<AuthError> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let description = json.get("error_description")?.as_str()?.to_string();
    let code = code_of(&description).or_else(|| {
        json.get("error_codes")?
            .as_array()?
            .first()?
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
    })?;
    let advice = advice(code, ctx, &description);
    let presented = ctx
        .presented
        .clone()
        .or_else(|| {
            quoted_subject(&description).map(|subject| PresentedAssertion {
                subject,
                ..Default::default()
            })
        })
        .map(Box::new);
    Some(AuthError::Entra {
        method: ctx.method.unwrap_or_default(),
        code: format!("AADSTS{code}"),
        explanation: advice.explanation,
        fix: advice.fix,
        description: redact(&description),
        presented,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_descriptions() {
        assert_eq!(code_of("AADSTS700213: No matching"), Some(700213));
        assert_eq!(code_of("something else"), None);
    }

    #[test]
    fn subject_mismatch_shows_expected_formats_and_presented_subject() {
        let ctx = SignInContext {
            method: Some(AuthMethod::GithubOidc),
            tenant_id: "t".into(),
            client_id: "c".into(),
            presented: Some(PresentedAssertion {
                issuer: "https://token.actions.githubusercontent.com".into(),
                subject: "repo:org/app:ref:refs/heads/dev".into(),
                audience: vec!["api://AzureADTokenExchange".into()],
            }),
        };
        let body = br#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject 'repo:org/app:ref:refs/heads/dev'.","error_codes":[700213]}"#;
        let err = from_response(body, &ctx).expect("an Entra error");
        let text = err.to_string();
        assert_eq!(err.aadsts_code(), Some("AADSTS700213"));
        assert!(
            text.contains("subject 'repo:org/app:ref:refs/heads/dev'"),
            "{text}"
        );
        assert!(text.contains("repo:ORG/REPO:ref:refs/heads/main"), "{text}");
        assert!(text.contains("repo:ORG/REPO:environment:NAME"), "{text}");
    }

    #[test]
    fn every_listed_code_has_specific_advice() {
        let ctx = SignInContext::default();
        for code in [
            700213, 7002138, 700211, 700212, 700024, 700027, 50013, 7000215, 7000222, 7000218,
            700016, 90002, 50059, 7000229, 500011, 1002012, 50027, 700021, 53003, 50076, 65001,
            70016, 70020, 70000,
        ] {
            let a = advice(code, &ctx, "");
            assert_ne!(a.explanation, "Entra ID refused the sign-in", "code {code}");
        }
    }
}
