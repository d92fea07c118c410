//! Image pull failures, worded as the container runtimes report them to the kubelet and as the
//! kubelet then shows them in the pod's status, so that kpush's classification is tested against
//! what clusters really say.
//!
//! Sources:
//! - containerd at commit 301026e58c619e63d09c0ec411012e54c0124b03 (main, November 2026):
//!   `internal/cri/server/images/image_pull.go` ("failed to pull and unpack image %q: %w"),
//!   `client/pull.go` ("failed to resolve reference %q: %w"), `core/remotes/docker/resolver.go`
//!   ("%s: %w" with `errdefs.ErrNotFound` = "not found"; "pull access denied, repository does not
//!   exist or may require authorization: %w"; "failed to authorize: %w"; "failed to do request:
//!   %w"; `ErrInvalidAuthorization` = "authorization failed"), `core/remotes/docker/authorizer.go`
//!   ("failed to fetch anonymous token: %w"; "server message: %s: %w"),
//!   `core/remotes/errors/errors.go` ("unexpected status from %s request to %s: %s"); errors
//!   reach the kubelet through `errdefs/pkg/errgrpc.ToGRPC`: `ErrNotFound` becomes gRPC code
//!   NotFound, anything else code Unknown.
//! - CRI-O v1.34.0 (`github.com/cri-o/cri-o`, Go module proxy): `server/image_pull.go` (a refused
//!   connection is wrapped as `RegistryUnavailable: %w`; policy and signature errors as
//!   `SignatureValidationFailed: %w` by `internal/storage/image.go`), `internal/storage/image.go`
//!   ("unable to try pulling possible OCI artifact: %w") and `internal/ociartifact/store.go`
//!   ("build image source: %w"), over containers/image v5.42.1 (`go.podman.io/image/v5`):
//!   `docker/docker_client.go` ("pinging container registry %s: %w", "reading manifest %s in %s:
//!   %w", "fetching manifest %s in %s: %w"), `docker/errors.go` and `docker/distribution_error.go`
//!   (registry error bodies: "manifest unknown", "requested access to the resource is denied",
//!   "toomanyrequests: …", "received unexpected HTTP status: %s", "unable to retrieve auth token:
//!   invalid username/password: %s"), `copy/single.go` ("Source image rejected: %w") and
//!   `signature/policy_eval_signedby.go` ("A signature was required, but no signature exists").
//! - The kubelet of Kubernetes v1.35.4: `k8s.io/cri-client` `pkg/remote_image.go` strips
//!   "rpc error: code = Unknown desc = " from a failed `PullImage` (other codes keep it);
//!   `pkg/kubelet/images/image_manager.go` (`evalCRIPullErr`: a `RegistryUnavailable` or
//!   `SignatureValidationFailed` prefix becomes the waiting reason, with "image pull failed for
//!   %s because the registry is unavailable%s" / "… because the signature validation
//!   failed%s"; otherwise reason ErrImagePull and the runtime's message; the `Failed` event
//!   "Failed to pull image %q: %v"; during back-off the status says "Back-off pulling image %q:
//!   <reason>: <message>").
//! - Network and certificate texts are Go's (`net`: "dial tcp: lookup … no such host", "i/o
//!   timeout", "connect: connection refused"; `crypto/tls`, `crypto/x509`: "tls: failed to verify
//!   certificate: x509: certificate signed by unknown authority"; `net/url`: `Get "URL": …`).

use super::images::ImageRef;

/// The container runtime whose wording a simulated node uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerRuntime {
    /// containerd (AKS's runtime).
    Containerd,
    /// CRI-O (OpenShift, some self-managed clusters).
    CriO,
}

/// The pod annotation choosing the runtime's wording (`containerd` when absent).
pub const RUNTIME_ANNOTATION: &str = "sim.kpush.dev/runtime";

impl ContainerRuntime {
    /// Both runtimes.
    pub const ALL: [ContainerRuntime; 2] = [ContainerRuntime::Containerd, ContainerRuntime::CriO];

    /// The runtime named by an annotation value (`containerd`, `cri-o`).
    pub fn from_keyword(word: &str) -> Option<ContainerRuntime> {
        match word.trim() {
            "containerd" => Some(ContainerRuntime::Containerd),
            "cri-o" | "crio" => Some(ContainerRuntime::CriO),
            _ => None,
        }
    }
}

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
    /// The registry refuses the connection (restarting, or a firewall).
    ConnectionRefused,
    /// The registry throttles pulls (429).
    RateLimited,
    /// The registry fails (503).
    ServerError,
    /// The node's signature policy rejects the image (CRI-O's policy.json, containerd's image
    /// verifier plugins).
    SignatureRejected,
}

impl PullFailure {
    /// Every failure, in vocabulary order.
    pub const ALL: [PullFailure; 10] = [
        PullFailure::NotFound,
        PullFailure::Denied,
        PullFailure::Unauthorized,
        PullFailure::NoSuchHost,
        PullFailure::UnknownAuthority,
        PullFailure::Timeout,
        PullFailure::ConnectionRefused,
        PullFailure::RateLimited,
        PullFailure::ServerError,
        PullFailure::SignatureRejected,
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
            PullFailure::ConnectionRefused => "pull-refused",
            PullFailure::RateLimited => "pull-rate-limited",
            PullFailure::ServerError => "pull-server-error",
            PullFailure::SignatureRejected => "pull-unsigned",
        }
    }

    /// Whether retrying cannot help (what kpush must conclude at once).
    pub fn is_permanent(self) -> bool {
        !matches!(
            self,
            PullFailure::Timeout
                | PullFailure::ConnectionRefused
                | PullFailure::RateLimited
                | PullFailure::ServerError
        )
    }

    /// The error the kubelet receives from containerd for pulling `image` (after the CRI
    /// client stripped code Unknown).
    pub fn message(self, image: &ImageRef) -> String {
        self.cri_error(ContainerRuntime::Containerd, image)
    }

    /// The error the kubelet receives from `runtime`'s `PullImage` for `image`, as the CRI
    /// client hands it on ("rpc error: code = Unknown desc = " stripped, other codes kept).
    pub fn cri_error(self, runtime: ContainerRuntime, image: &ImageRef) -> String {
        match runtime {
            ContainerRuntime::Containerd => self.containerd_error(image),
            ContainerRuntime::CriO => self.crio_error(image),
        }
    }

    fn containerd_error(self, image: &ImageRef) -> String {
        let reference = image.normalized();
        let host = registry_host(image);
        let tag = image
            .digest
            .clone()
            .or_else(|| image.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let manifest = format!("https://{host}/v2/{}/manifests/{tag}", image.path);
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
            PullFailure::ConnectionRefused => format!(
                "failed to do request: Head \"{manifest}\": dial tcp 10.20.30.40:443: connect: connection refused"
            ),
            PullFailure::RateLimited => format!(
                "unexpected status from HEAD request to {manifest}: 429 Too Many Requests"
            ),
            PullFailure::ServerError => format!(
                "unexpected status from HEAD request to {manifest}: 503 Service Unavailable"
            ),
            PullFailure::SignatureRejected => {
                // containerd verifies only through an image verifier plugin of its transfer
                // service (`core/transfer/local/pull.go`), after resolving the reference.
                return format!(
                    "failed to pull and unpack image \"{reference}\": image verifier bindir blocked pull of {reference} with digest sha256:{} for reason: no valid signature found",
                    "0".repeat(64)
                );
            }
        };
        let text = format!(
            "failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {cause}"
        );
        if self == PullFailure::NotFound {
            format!("rpc error: code = NotFound desc = {text}")
        } else {
            text
        }
    }

    fn crio_error(self, image: &ImageRef) -> String {
        let host = registry_host(image);
        // A digest wins over a tag, as in containers/image's `tagOrDigest`.
        let tag = image
            .digest
            .clone()
            .or_else(|| image.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let repo = format!("{}/{}", image.domain, image.path);
        let ping = format!("pinging container registry {host}: Get \"https://{host}/v2/\"");
        let cause = match self {
            PullFailure::NotFound => format!("reading manifest {tag} in {repo}: manifest unknown"),
            PullFailure::Denied => {
                format!(
                    "reading manifest {tag} in {repo}: requested access to the resource is denied"
                )
            }
            PullFailure::Unauthorized => format!(
                "fetching manifest {tag} in {repo}: unable to retrieve auth token: invalid username/password: unauthorized: authentication required"
            ),
            PullFailure::NoSuchHost => {
                format!("{ping}: dial tcp: lookup {host} on 10.0.0.10:53: no such host")
            }
            PullFailure::UnknownAuthority => format!(
                "{ping}: tls: failed to verify certificate: x509: certificate signed by unknown authority"
            ),
            PullFailure::Timeout => format!("{ping}: dial tcp 10.20.30.40:443: i/o timeout"),
            PullFailure::ConnectionRefused => {
                format!("{ping}: dial tcp 10.20.30.40:443: connect: connection refused")
            }
            PullFailure::RateLimited => format!(
                "reading manifest {tag} in {repo}: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"
            ),
            PullFailure::ServerError => format!(
                "reading manifest {tag} in {repo}: received unexpected HTTP status: 503 Service Unavailable"
            ),
            PullFailure::SignatureRejected => {
                return "SignatureValidationFailed: Source image rejected: A signature was required, but no signature exists".to_string();
            }
        };
        let text =
            format!("unable to try pulling possible OCI artifact: build image source: {cause}");
        if self == PullFailure::ConnectionRefused {
            format!("RegistryUnavailable: {text}")
        } else {
            text
        }
    }
}

/// Docker Hub's registry answers on its own host name.
fn registry_host(image: &ImageRef) -> String {
    if image.domain == "docker.io" {
        "registry-1.docker.io".to_string()
    } else {
        image.domain.clone()
    }
}

/// What the kubelet makes of a failed pull: the container's waiting reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletPullError {
    /// `ErrImagePull`, `RegistryUnavailable` or `SignatureValidationFailed`.
    pub reason: String,
    /// The waiting message while the pull fails.
    pub message: String,
}

impl KubeletPullError {
    /// The kubelet's `evalCRIPullErr` for `cri_error` returned when pulling `image` (as written
    /// in the pod spec).
    pub fn from_cri_error(image: &str, cri_error: &str) -> KubeletPullError {
        for (prefix, because) in [
            ("RegistryUnavailable", "the registry is unavailable"),
            (
                "SignatureValidationFailed",
                "the signature validation failed",
            ),
        ] {
            if let Some(rest) = cri_error.strip_prefix(prefix) {
                return KubeletPullError {
                    reason: prefix.to_string(),
                    message: format!("image pull failed for {image} because {because}{rest}"),
                };
            }
        }
        KubeletPullError {
            reason: "ErrImagePull".into(),
            message: cri_error.to_string(),
        }
    }

    /// The waiting message of ImagePullBackOff after this failure.
    pub fn back_off_message(&self, image: &str) -> String {
        format!(
            "Back-off pulling image \"{image}\": {}: {}",
            self.reason, self.message
        )
    }
}

/// One simulated pull failure as the pod shows it.
#[derive(Debug, Clone)]
pub struct PullExample {
    pub runtime: ContainerRuntime,
    pub failure: PullFailure,
    /// The kubelet's waiting reason and message.
    pub kubelet: KubeletPullError,
    /// The `Failed` event's message.
    pub event: String,
    /// The waiting message once the kubelet backs off.
    pub back_off: String,
    pub permanent: bool,
}

/// Every failure of every runtime for `image` (e.g. `registry.example/app:1.0`), as the pod's
/// status and events show them, with whether each is permanent: the table kpush's classifier
/// is tested against.
pub fn examples(image: &str) -> Vec<PullExample> {
    let Ok(parsed) = ImageRef::parse(image) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for runtime in ContainerRuntime::ALL {
        for failure in PullFailure::ALL {
            let cri = failure.cri_error(runtime, &parsed);
            let kubelet = KubeletPullError::from_cri_error(image, &cri);
            out.push(PullExample {
                runtime,
                failure,
                event: format!("Failed to pull image \"{image}\": {cri}"),
                back_off: kubelet.back_off_message(image),
                kubelet,
                permanent: failure.is_permanent(),
            });
        }
    }
    out
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
        assert_eq!(examples("regsitry.example/app:1").len(), 20);
    }

    #[test]
    fn the_kubelet_turns_runtime_prefixes_into_reasons() {
        let image = ImageRef::parse("quay.io/org/app:1").unwrap();
        let refused = PullFailure::ConnectionRefused.cri_error(ContainerRuntime::CriO, &image);
        let k = KubeletPullError::from_cri_error("quay.io/org/app:1", &refused);
        assert_eq!(k.reason, "RegistryUnavailable");
        assert!(
            k.message.starts_with(
                "image pull failed for quay.io/org/app:1 because the registry is unavailable: unable to try pulling possible OCI artifact: build image source: pinging container registry quay.io"
            ),
            "{}",
            k.message
        );
        let unsigned = PullFailure::SignatureRejected.cri_error(ContainerRuntime::CriO, &image);
        let k = KubeletPullError::from_cri_error("quay.io/org/app:1", &unsigned);
        assert_eq!(k.reason, "SignatureValidationFailed");
        assert_eq!(
            k.back_off_message("quay.io/org/app:1"),
            "Back-off pulling image \"quay.io/org/app:1\": SignatureValidationFailed: image pull failed for quay.io/org/app:1 because the signature validation failed: Source image rejected: A signature was required, but no signature exists"
        );
        let missing = PullFailure::NotFound.cri_error(ContainerRuntime::CriO, &image);
        assert_eq!(
            KubeletPullError::from_cri_error("quay.io/org/app:1", &missing),
            KubeletPullError {
                reason: "ErrImagePull".into(),
                message: "unable to try pulling possible OCI artifact: build image source: reading manifest 1 in quay.io/org/app: manifest unknown".into()
            }
        );
    }

    #[test]
    fn containerd_keeps_the_grpc_code_only_for_not_found() {
        let image = ImageRef::parse("nginx:1").unwrap();
        for f in PullFailure::ALL {
            let m = f.message(&image);
            assert_eq!(
                m.starts_with("rpc error:"),
                f == PullFailure::NotFound,
                "{m}"
            );
        }
    }
}
