//! RS256 JSON Web Tokens: signing, JWKS, and verification, on aws-lc-rs.

use anyhow::{Context, anyhow};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::pki_types::CertificateDer;
use serde_json::{Map, Value, json};

/// An RSA signing key with its key id.
pub struct SigningKey {
    kid: String,
    pair: KeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit key.
    pub fn generate(kid_prefix: &str) -> anyhow::Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow!("could not generate an RSA key"))?;
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let kid = format!("{kid_prefix}-{}", crate::util::random_hex(8));
        Ok(SigningKey {
            kid,
            pair,
            n: components.n,
            e: components.e,
        })
    }

    /// Loads a PKCS#8 DER RSA key under key id `kid`.
    pub fn from_pkcs8(der: &[u8], kid: &str) -> anyhow::Result<Self> {
        let pair = KeyPair::from_pkcs8(der).map_err(|e| anyhow!("not an RSA PKCS#8 key: {e}"))?;
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        Ok(SigningKey {
            kid: kid.to_string(),
            pair,
            n: components.n,
            e: components.e,
        })
    }

    /// The key id (`kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Signs `claims` with header `{alg: RS256, typ: JWT, kid}` plus `extra_header`.
    pub fn sign(&self, claims: &Value, extra_header: Option<&Map<String, Value>>) -> String {
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        header.insert("alg".into(), "RS256".into());
        header.insert("kid".into(), self.kid.clone().into());
        if let Some(extra) = extra_header {
            for (k, v) in extra {
                header.insert(k.clone(), v.clone());
            }
        }
        self.sign_with_header(&Value::Object(header), claims)
    }

    /// Signs `claims` under exactly `header`.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        // Signing with a valid in-memory key and a correctly sized buffer cannot fail.
        if self
            .pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .is_err()
        {
            sig.clear();
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// Whether `signature` over `input` was made by this key.
    pub fn verifies(&self, input: &[u8], signature_bytes: &[u8]) -> bool {
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            input,
            signature_bytes,
        )
        .is_ok()
    }
}

/// A JWT split into its parts, not yet verified.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Decoded header.
    pub header: Map<String, Value>,
    /// Decoded claims.
    pub claims: Map<String, Value>,
    /// `base64(header).base64(claims)`, the signed input.
    pub signing_input: String,
    /// Raw signature bytes.
    pub signature: Vec<u8>,
}

impl Decoded {
    /// A string claim.
    pub fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (seconds since the epoch).
    pub fn num_claim(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// The `aud` claim, which may be a string or an array.
    pub fn audiences(&self) -> Vec<String> {
        match self.claims.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

/// Splits and base64-decodes a compact JWT without checking its signature.
pub fn decode(token: &str) -> anyhow::Result<Decoded> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(anyhow!("a JWT has three dot-separated parts"));
    };
    let header: Map<String, Value> = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(h)
            .context("JWT header is not base64url")?,
    )
    .context("JWT header is not a JSON object")?;
    let claims: Map<String, Value> = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(c)
            .context("JWT claims are not base64url")?,
    )
    .context("JWT claims are not a JSON object")?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .context("JWT signature is not base64url")?;
    Ok(Decoded {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature,
    })
}

/// Whether `decoded` is RS256-signed by the key in certificate `cert_der`.
pub fn verifies_with_certificate(decoded: &Decoded, cert_der: &[u8]) -> bool {
    let der = CertificateDer::from(cert_der.to_vec());
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    cert.verify_signature(
        webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
        decoded.signing_input.as_bytes(),
        &decoded.signature,
    )
    .is_ok()
}
