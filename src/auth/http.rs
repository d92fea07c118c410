//! The HTTP client used for Entra, ARM and CI token endpoints: reqwest with the system roots plus
//! `--azure-ca-file`, wired into the Azure SDK as its transport.

use super::{AuthError, AzureSettings};
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_core::time::Duration;
use std::sync::Arc;

/// A reqwest client trusting the system roots and the extra CA file, if any.
pub(crate) fn reqwest_client(settings: &AzureSettings) -> Result<reqwest::Client, AuthError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("kpush/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &settings.azure_ca_file {
        let pem = std::fs::read(path).map_err(|e| AuthError::Config {
            message: format!("cannot read --azure-ca-file {}: {e}", path.display()),
            fix: "pass a readable PEM file with the CA certificate(s) to trust".into(),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| AuthError::Config {
            message: format!(
                "--azure-ca-file {} is not a PEM bundle: {e}",
                path.display()
            ),
            fix: "pass PEM certificates (-----BEGIN CERTIFICATE-----)".into(),
        })?;
        if certs.is_empty() {
            return Err(AuthError::Config {
                message: format!("--azure-ca-file {} holds no certificate", path.display()),
                fix: "pass PEM certificates (-----BEGIN CERTIFICATE-----)".into(),
            });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| AuthError::Config {
        message: format!("cannot set up the HTTPS client: {e}"),
        fix: "check --azure-ca-file".into(),
    })
}

/// Azure SDK client options: our transport, the authority host, a short retry policy.
pub(crate) fn client_options(
    settings: &AzureSettings,
    http: &reqwest::Client,
) -> Result<ClientOptions, AuthError> {
    let mut custom = CustomConfiguration::default();
    custom.authority_host = settings.authority_host()?;
    Ok(ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: Duration::milliseconds(500),
            max_retries: 3,
            max_total_elapsed: Duration::seconds(30),
            max_delay: Duration::seconds(5),
        }),
        ..ClientOptions::default()
    })
}

/// Describes a transport error without its URL query (which may carry parameters).
pub(crate) fn transport_detail(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    super::error::redact(&text)
}
