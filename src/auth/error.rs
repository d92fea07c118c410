//! The auth module's error type: what happened, why, and what to do.

use super::AuthMethod;
use std::fmt;

/// Claims of a federated assertion that was presented to Entra (none of them secret).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresentedAssertion {
    /// `iss` claim.
    pub issuer: String,
    /// `sub` claim.
    pub subject: String,
    /// `aud` claim(s).
    pub audience: Vec<String>,
}

impl fmt::Display for PresentedAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "issuer '{}', subject '{}', audience '{}'",
            self.issuer,
            self.subject,
            self.audience.join("', '")
        )
    }
}

/// Why signing in, or getting cluster credentials, failed. `Display` never contains tokens or
/// secrets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthError {
    /// Settings or environment are incomplete or contradictory.
    Config {
        /// What is wrong.
        message: String,
        /// What to do.
        fix: String,
    },
    /// `--auth auto` found nothing to sign in with.
    NoCredential {
        /// What was looked for.
        checked: Vec<String>,
    },
    /// Entra ID refused to issue a token (an AADSTS error).
    Entra {
        /// Sign-in method in use.
        method: AuthMethod,
        /// `AADSTS700213` and the like.
        code: String,
        /// Plain explanation of the code.
        explanation: String,
        /// Likely fix.
        fix: String,
        /// Entra's own `error_description` (trace ids included, for support requests).
        description: String,
        /// The federated assertion presented, when there was one.
        presented: Option<Box<PresentedAssertion>>,
    },
    /// Azure Resource Manager refused a request.
    Arm {
        /// HTTP status.
        status: u16,
        /// ARM's error code, e.g. `AuthorizationFailed`.
        code: String,
        /// ARM's message.
        message: String,
        /// Likely fix.
        fix: String,
    },
    /// A service could not be reached (DNS, connect, TLS).
    Unreachable {
        /// Which service.
        what: String,
        /// Its URL.
        url: String,
        /// Transport error.
        detail: String,
    },
    /// A token source before Entra failed: GitHub's or Azure DevOps' OIDC endpoint, a
    /// federated token file, the managed identity endpoint, or the Azure CLI.
    TokenSource {
        /// Which source.
        provider: String,
        /// What happened.
        message: String,
        /// What to do.
        fix: String,
    },
    /// The kubeconfig ARM returned cannot be used.
    Kubeconfig {
        /// What is wrong with it.
        message: String,
    },
    /// Building the Kubernetes client failed.
    Kube {
        /// What went wrong.
        message: String,
    },
    /// Another failure reported by the Azure SDK.
    Credential {
        /// Sign-in method in use.
        method: AuthMethod,
        /// The SDK's message.
        message: String,
    },
}

impl AuthError {
    /// The AADSTS code of an [`AuthError::Entra`], e.g. `AADSTS700213`.
    pub fn aadsts_code(&self) -> Option<&str> {
        match self {
            AuthError::Entra { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The likely fix, when one is known.
    pub fn fix(&self) -> Option<&str> {
        match self {
            AuthError::Config { fix, .. }
            | AuthError::Entra { fix, .. }
            | AuthError::Arm { fix, .. }
            | AuthError::TokenSource { fix, .. } => Some(fix),
            _ => None,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Config { message, fix } => write!(f, "{message}\n  fix: {fix}"),
            AuthError::NoCredential { checked } => write!(
                f,
                "found no Azure credential to sign in with (looked for: {})\n  fix: pass --auth with a method, or run in GitHub Actions with `permissions: id-token: write` and AZURE_CLIENT_ID/AZURE_TENANT_ID set, or sign in with `az login`, or use --auth device-code",
                checked.join("; ")
            ),
            AuthError::Entra {
                method,
                code,
                explanation,
                fix,
                description,
                presented,
            } => {
                write!(
                    f,
                    "Entra ID refused the {method} sign-in with {code}: {explanation}"
                )?;
                if let Some(p) = presented {
                    write!(f, "\n  presented: {p}")?;
                }
                write!(f, "\n  Entra said: {description}\n  fix: {fix}")
            }
            AuthError::Arm {
                status,
                code,
                message,
                fix,
            } => write!(
                f,
                "Azure Resource Manager answered {status} {code}: {message}\n  fix: {fix}"
            ),
            AuthError::Unreachable { what, url, detail } => write!(
                f,
                "cannot reach {what} at {url}: {detail}\n  fix: check the network, proxy and firewall; for a private CA pass --azure-ca-file"
            ),
            AuthError::TokenSource {
                provider,
                message,
                fix,
            } => write!(f, "{provider}: {message}\n  fix: {fix}"),
            AuthError::Kubeconfig { message } => {
                write!(f, "the kubeconfig from AKS cannot be used: {message}")
            }
            AuthError::Kube { message } => {
                write!(f, "cannot build the Kubernetes client: {message}")
            }
            AuthError::Credential { method, message } => {
                write!(f, "{method} sign-in failed: {message}")
            }
        }
    }
}

impl std::error::Error for AuthError {}

/// Replaces anything shaped like a JWT (`eyJ…​.…​.…`) with `[redacted token]`.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
            .unwrap_or(candidate.len());
        let token = &candidate[..end];
        if token.matches('.').count() >= 2 {
            out.push_str("[redacted token]");
        } else {
            out.push_str(token);
        }
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwts_are_redacted_and_other_text_kept() {
        let text = "got eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl back, eyJnot-a-token stays";
        assert_eq!(
            redact(text),
            "got [redacted token] back, eyJnot-a-token stays"
        );
    }
}
