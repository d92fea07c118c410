//! Image pull failures, worded as containerd reports them to the kubelet (the CRI `PullImage`
//! error, with its gRPC status prefix), so that kpush's classification is tested against what
//! clusters really say.
//!
//! Source: containerd at commit 301026e58c619e63d09c0ec411012e54c0124b03 (main, November 2026):
//! `internal/cri/server/images/image_pull.go` ("failed to pull and unpack image %q: %w"),
//! `client/pull.go` ("failed to resolve reference %q: %w"), `core/remotes/docker/resolver.go`
//! ("%s: %w" with `errdefs.ErrNotFound` = "not found"; "pull access denied, repository does not
//! exist or may require authorization: %w"; "failed to authorize: %w"; "failed to do request:
//! %w"; `ErrInvalidAuthorization` = "authorization failed"), `core/remotes/docker/authorizer.go`
//! ("failed to fetch anonymous token: %w"; "server message: %s: %w"),
//! `core/remotes/errors/errors.go` ("unexpected status from %s request to %s: %s"). The network
//! and certificate texts are Go's (`net`: "dial tcp: lookup … no such host", "i/o timeout";
//! `crypto/tls`/`crypto/x509`: "tls: failed to verify certificate: x509: certificate signed by
//! unknown authority").

use super::images::ImageRef;

/// Why a pull fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullFailure {
    /// The tag or repository does not exist (404).
    NotFound,
    /// The registry refuses access (insufficient scope): private image without credentials.
    Denied,
    /// The registry's token service answers 401.
    Unauthorized,
    /// The registry host does not resolve (a mistyped registry).
    NoSuchHost,
    /// The registry's certificate is not trusted by the node.
    UnknownAuthority,
    /// The registry does not answer in time.
    Timeout,
    /// The registry throttles pulls (429).
    RateLimited,
    /// The registry fails (503).
    ServerError,
}

impl PullFailure {
    /// Every failure, in vocabulary order.
    pub const ALL: [PullFailure; 8] = [
        PullFailure::NotFound,
        PullFailure::Denied,
        PullFailure::Unauthorized,
        PullFailure::NoSuchHost,
        PullFailure::UnknownAuthority,
        PullFailure::Timeout,
        PullFailure::RateLimited,
        PullFailure::ServerError,
    ];

    /// The behaviour keyword (`sim.kpush.dev/behavior`, or the image's short name).
    pub fn keyword(self) -> &'static str {
        match self {
            PullFailure::NotFound => "bad-image",
            PullFailure::Denied => "pull-denied",
            PullFailure::Unauthorized => "pull-unauthorized",
            PullFailure::NoSuchHost => "pull-no-such-host",
            PullFailure::UnknownAuthority => "pull-x509",
            PullFailure::Timeout => "pull-timeout",
            PullFailure::RateLimited => "pull-rate-limited",
            PullFailure::ServerError => "pull-server-error",
        }
    }

    /// Whether retrying cannot help (what kpush must conclude at once).
    pub fn is_permanent(self) -> bool {
        !matches!(
            self,
            PullFailure::Timeout | PullFailure::RateLimited | PullFailure::ServerError
        )
    }

    /// The message the kubelet receives from containerd for pulling `image`.
    pub fn message(self, image: &ImageRef) -> String {
        let reference = image.normalized();
        let host = if image.domain == "docker.io" {
            "registry-1.docker.io".to_string()
        } else {
            image.domain.clone()
        };
        let tag = image.tag.clone().unwrap_or_else(|| "latest".into());
        let manifest = format!("https://{host}/v2/{}/manifests/{tag}", image.path);
        let code = if self == PullFailure::NotFound {
            "NotFound"
        } else {
            "Unknown"
        };
        let cause = match self {
            PullFailure::NotFound => format!("{reference}: not found"),
            PullFailure::Denied => "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed".to_string(),
            PullFailure::Unauthorized => format!(
                "failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://{host}/token?scope=repository%3A{}%3Apull&service={host}: 401 Unauthorized",
                image.path
            ),
            PullFailure::NoSuchHost => format!(
                "failed to do request: Head \"{manifest}\": dial tcp: lookup {host} on 10.0.0.10:53: no such host"
            ),
            PullFailure::UnknownAuthority => format!(
                "failed to do request: Head \"{manifest}\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
            ),
            PullFailure::Timeout => format!(
                "failed to do request: Head \"{manifest}\": dial tcp 10.20.30.40:443: i/o timeout"
            ),
            PullFailure::RateLimited => format!(
                "unexpected status from HEAD request to {manifest}: 429 Too Many Requests"
            ),
            PullFailure::ServerError => format!(
                "unexpected status from HEAD request to {manifest}: 503 Service Unavailable"
            ),
        };
        format!(
            "rpc error: code = {code} desc = failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {cause}"
        )
    }
}

/// The messages of every failure for `image` (e.g. `registry.example/app:1.0`), with whether
/// each is permanent: the table kpush's classifier is tested against.
pub fn examples(image: &str) -> Vec<(PullFailure, String, bool)> {
    let Ok(parsed) = ImageRef::parse(image) else {
        return Vec::new();
    };
    PullFailure::ALL
        .iter()
        .map(|f| (*f, f.message(&parsed), f.is_permanent()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_worded_as_before() {
        let image = ImageRef::parse("nginx:nope").unwrap();
        assert_eq!(
            PullFailure::NotFound.message(&image),
            "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:nope\": failed to resolve reference \"docker.io/library/nginx:nope\": docker.io/library/nginx:nope: not found"
        );
    }

    #[test]
    fn network_failures_name_the_registry_host() {
        let image = ImageRef::parse("regsitry.example/app:1").unwrap();
        let m = PullFailure::NoSuchHost.message(&image);
        assert!(
            m.contains("lookup regsitry.example on 10.0.0.10:53: no such host"),
            "{m}"
        );
        assert!(
            m.contains("https://regsitry.example/v2/app/manifests/1"),
            "{m}"
        );
        assert_eq!(examples("regsitry.example/app:1").len(), 8);
    }
}
