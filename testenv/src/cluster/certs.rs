//! Keys, certificates and tokens: the service-account key, the apiserver's CA, bearer tokens.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Writes a 2048-bit RSA private key (PEM) for signing service-account tokens.
pub fn generate_service_account_key(path: &Path) -> Result<()> {
    let output = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(path)
        .arg("2048")
        .stdin(Stdio::null())
        .output()
        .context("running `openssl genrsa` (install the openssl command-line tool)")?;
    if !output.status.success() {
        bail!(
            "openssl genrsa failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Splits a PEM bundle into its blocks, each with its BEGIN/END lines.
pub fn pem_blocks(pem: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            current = Some(format!("{line}\n"));
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
            if line.starts_with("-----END ") {
                blocks.extend(current.take());
            }
        }
    }
    blocks
}

/// The CA that signed kube-apiserver's self-generated serving certificate.
///
/// `--cert-dir/apiserver.crt` holds the serving certificate followed by its CA; clients trust the
/// CA. A file with a single certificate is trusted as it is.
pub fn serving_ca(apiserver_crt: &str) -> Option<String> {
    let certs: Vec<String> = pem_blocks(apiserver_crt)
        .into_iter()
        .filter(|b| b.starts_with("-----BEGIN CERTIFICATE-----"))
        .collect();
    match certs.len() {
        0 => None,
        1 => certs.into_iter().next(),
        _ => Some(certs[1..].concat()),
    }
}

/// A random bearer token (32 hex digits from /dev/urandom).
pub fn random_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One line of kube-apiserver's `--token-auth-file`: `token,user,uid,"group1,group2"`.
pub fn token_file_line(token: &str, user: &str, groups: &[&str]) -> String {
    if groups.is_empty() {
        format!("{token},{user},{user}")
    } else {
        format!("{token},{user},{user},\"{}\"", groups.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: &str = "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nREVG\n-----END CERTIFICATE-----\n";

    #[test]
    fn serving_ca_is_the_certificate_after_the_leaf() {
        assert_eq!(
            serving_ca(CHAIN).unwrap(),
            "-----BEGIN CERTIFICATE-----\nREVG\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn token_lines_quote_groups() {
        assert_eq!(
            token_file_line("t", "admin", &["system:masters"]),
            "t,admin,admin,\"system:masters\""
        );
        assert_eq!(token_file_line("t", "bob", &[]), "t,bob,bob");
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_token().unwrap(), random_token().unwrap());
    }
}
