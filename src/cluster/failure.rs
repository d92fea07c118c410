//! Turning a `kube::Error` into what kpush must decide on: retry, give up as unreachable,
//! give up as unauthenticated, or report the API server's answer.

use std::error::Error as _;
use std::io::ErrorKind;

use kube::core::Status;

/// What a failed request means for kpush.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Worth retrying: connection reset, 429, 500, 503, 504. `retry_after` from the server.
    Transient {
        /// Human description.
        message: String,
        /// Seconds the server asked to wait, if it said.
        retry_after: Option<u64>,
    },
    /// The API server could not be reached at all (refused, DNS, TLS, timeout).
    Unreachable(String),
    /// The connection failed after the request was sent (reset, closed, timed out), and
    /// retrying did not get an answer: the request may or may not have taken effect.
    InFlight(String),
    /// The API server did not accept kpush's credentials (401).
    Unauthorized(String),
    /// The API server answered with a failure status (400, 403, 404, 409, 422, ...).
    Status(Box<Status>),
    /// Anything else (unexpected response, decoding error).
    Other(String),
}

impl Failure {
    /// The HTTP status code, when the server answered.
    pub fn code(&self) -> Option<u16> {
        match self {
            Failure::Status(s) => Some(s.code),
            _ => None,
        }
    }

    /// Whether the server answered 409 Conflict (a stale resourceVersion or a field conflict).
    pub fn is_conflict(&self) -> bool {
        self.code() == Some(409)
    }

    /// Whether the server answered 404.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// Whether discovery said the API group does not exist (kube's "Missing"/"Empty Api Group"
    /// errors, or a 404): the group is gone, not merely unreadable.
    pub fn is_missing_group(&self) -> bool {
        self.is_not_found()
            || matches!(self, Failure::Other(m) if m.contains("Missing") || m.contains("Empty Api Group"))
    }

    /// One line for messages.
    pub fn message(&self) -> String {
        match self {
            Failure::Transient { message, .. }
            | Failure::Unreachable(message)
            | Failure::InFlight(message)
            | Failure::Unauthorized(message)
            | Failure::Other(message) => message.clone(),
            Failure::Status(s) => format!("{} ({}): {}", s.reason, s.code, s.message),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Classifies a client error.
pub fn classify(err: kube::Error) -> Failure {
    match err {
        kube::Error::Api(status) => classify_status(status),
        kube::Error::Auth(e) => Failure::Unauthorized(format!("cannot authenticate: {e}")),
        kube::Error::SerdeError(e) => Failure::Other(format!("unexpected response: {e}")),
        other => classify_transport(&other),
    }
}

fn classify_status(status: Box<Status>) -> Failure {
    if status.code == 401 {
        return Failure::Unauthorized(format!(
            "the API server rejected kpush's credentials (401 {}): {}",
            status.reason, status.message
        ));
    }
    if is_outage(&status) {
        Failure::Transient {
            message: format!("{} ({}): {}", status.reason, status.code, status.message),
            retry_after: retry_after(&status),
        }
    } else {
        Failure::Status(status)
    }
}

/// The seconds a server's answer asks to wait before trying again (`Retry-After`, which kube
/// reads into `details.retryAfterSeconds`).
pub fn retry_after(status: &Status) -> Option<u64> {
    status
        .details
        .as_ref()
        .map(|d| u64::from(d.retry_after_seconds))
        .filter(|s| *s > 0)
}

/// Causes a 500 names when the fault is the server's storage, a timeout or a lost connection
/// (behind the API server: etcd, an aggregated API, a webhook), not the request.
const OUTAGE_CAUSES: &[&str] = &[
    "etcdserver:",
    "etcd cluster is unavailable",
    "context deadline exceeded",
    "timed out",
    "i/o timeout",
    "connection refused",
    "connection reset",
    "no route to host",
    "client connection lost",
    "the server is currently unable to handle the request",
    "storage is (re)initializing",
    "too many requests",
];

/// Whether an answer of the server says it is temporarily unable to serve (retry the same
/// request later), as opposed to refusing this request (retrying gets the same answer).
///
/// Decided by what the server says, not by the HTTP class: a `Retry-After`; the reasons
/// `TooManyRequests` (429), `ServiceUnavailable` (503), `Timeout` (504) and `ServerTimeout`;
/// a gateway's 502/503/504; or a 500 whose message names etcd, a timeout or a lost connection.
/// Any other 500 (server-side apply's "failed to create typed patch object … expected string,
/// got …" for a value of the wrong type, "field not declared in schema") is the object's error.
pub fn is_outage(status: &Status) -> bool {
    if status.code < 500 && status.code != 429 {
        return false;
    }
    if retry_after(status).is_some() {
        return true;
    }
    if matches!(
        status.reason.as_str(),
        "TooManyRequests" | "ServiceUnavailable" | "Timeout" | "ServerTimeout"
    ) {
        return true;
    }
    match status.code {
        429 | 502 | 503 | 504 => true,
        500 => {
            // These name the object's fields and values: nothing in them is a cause.
            let about_the_object = [
                "failed to create typed patch object",
                "field not declared in schema",
            ]
            .iter()
            .any(|m| status.message.contains(m));
            let message = status.message.to_ascii_lowercase();
            !about_the_object && OUTAGE_CAUSES.iter().any(|c| message.contains(c))
        }
        _ => false,
    }
}

/// Transport errors: a reset connection is transient; refused, DNS, TLS and timeouts mean the
/// server is unreachable (retrying those only delays the answer in CI).
fn classify_transport(err: &kube::Error) -> Failure {
    let text = chain_text(err);
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => {
                    return Failure::Transient {
                        message: text,
                        retry_after: None,
                    };
                }
                _ => return Failure::Unreachable(io.to_string()),
            }
        }
        source = e.source();
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("connection reset") || lower.contains("connection closed") {
        Failure::Transient {
            message: text,
            retry_after: None,
        }
    } else if matches!(
        err,
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_)
    ) {
        Failure::Unreachable(text)
    } else {
        Failure::Other(text)
    }
}

/// Whether `err` is a lost or refused connection, or a request that timed out: the kind of
/// failure a control-plane restart or a load balancer reset causes, and that the same request
/// may fix a moment later. DNS and TLS failures are not: they do not go away by themselves.
pub fn is_connection_blip(err: &kube::Error) -> bool {
    if matches!(err, kube::Error::Api(_)) {
        return false;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::TimedOut
            )
        {
            return true;
        }
        source = e.source();
    }
    let lower = chain_text(err).to_ascii_lowercase();
    [
        "connection closed",
        "connection reset",
        "connection refused",
        "timed out",
    ]
    .iter()
    .any(|s| lower.contains(s))
}

/// Whether a failed attempt may have reached the API server: the connection broke after the
/// request went out (reset, closed, timed out while waiting for the answer). A refused or
/// failed connect (`client error (Connect)`) never sent anything.
pub fn maybe_delivered(err: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == ErrorKind::ConnectionRefused
        {
            return false;
        }
        source = e.source();
    }
    is_connection_blip(err) && !chain_text(err).contains("(Connect)")
}

/// The error and its sources joined with `: `, without repeats.
fn chain_text(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Status::failure("msg", reason).with_code(code).boxed())
    }

    /// One answer of tests/fixtures/api-answers/answers.json.
    #[derive(serde::Deserialize)]
    struct Answer {
        name: String,
        code: u16,
        headers: std::collections::BTreeMap<String, String>,
        body: String,
    }

    /// The `kube::Error` kube's client makes of `answer` (replayed as the server sent it).
    async fn error_of(answer: &Answer) -> kube::Error {
        let (code, headers, body) = (answer.code, answer.headers.clone(), answer.body.clone());
        let service = tower::service_fn(move |_req: http::Request<kube::client::Body>| {
            let mut response = http::Response::builder().status(code);
            for (k, v) in &headers {
                response = response.header(k, v);
            }
            let response = response.body(kube::client::Body::from(body.clone().into_bytes()));
            async move { response }
        });
        let client = kube::Client::new(service, "default");
        let request = http::Request::get("/api/v1/namespaces/default/configmaps/x")
            .body(Vec::new())
            .expect("request");
        client
            .request::<serde_json::Value>(request)
            .await
            .expect_err("an error answer")
    }

    /// Real answers of the 1.35 control plane (and two in its format, see the fixture):
    /// retried only when they say the server cannot serve for now.
    #[tokio::test]
    async fn answers_of_the_api_server_are_classified_by_what_they_say() {
        #[derive(serde::Deserialize)]
        struct Answers {
            answers: Vec<Answer>,
        }
        let answers: Answers = serde_json::from_str(include_str!(
            "../../tests/fixtures/api-answers/answers.json"
        ))
        .expect("fixture");
        let table = [
            ("typed-patch-500", false),
            ("aggregated-api-backend-down-503", true),
            ("apf-rejected-429", true),
            ("etcd-stopped-504", true),
            ("etcd-request-timed-out-500", true),
            ("etcd-leader-changed-500-unwrapped", true),
        ];
        assert_eq!(answers.answers.len(), table.len());
        for (name, outage) in table {
            let answer = answers
                .answers
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{name} missing from the fixture"));
            let failure = classify(error_of(answer).await);
            assert_eq!(
                matches!(failure, Failure::Transient { .. }),
                outage,
                "{name}: {failure:?}"
            );
            if !outage {
                assert!(matches!(failure, Failure::Status(_)), "{name}: {failure:?}");
            }
        }
    }

    #[test]
    fn the_reason_and_retry_after_decide_not_the_http_class() {
        let with_retry_after = |code: u16, reason: &str, secs: u32| {
            let details = kube::core::response::StatusDetails {
                name: String::new(),
                group: String::new(),
                kind: String::new(),
                uid: String::new(),
                causes: Vec::new(),
                retry_after_seconds: secs,
            };
            kube::Error::Api(
                Status::failure("msg", reason)
                    .with_code(code)
                    .with_details(details)
                    .boxed(),
            )
        };
        for (code, reason, outage) in [
            (429, "TooManyRequests", true),
            (500, "ServerTimeout", true),
            (500, "InternalError", false),
            (500, "", false),
            (502, "", true),
            (503, "ServiceUnavailable", true),
            (504, "Timeout", true),
            (409, "Conflict", false),
            (422, "Invalid", false),
        ] {
            assert_eq!(
                matches!(classify(status(code, reason)), Failure::Transient { .. }),
                outage,
                "{code} {reason}"
            );
        }
        assert!(matches!(
            classify(with_retry_after(500, "InternalError", 2)),
            Failure::Transient {
                retry_after: Some(2),
                ..
            }
        ));
        // A typed-patch 500 names the object's fields, which may read like a cause.
        let typed = Status::failure(
            "failed to create typed patch object (shop/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"c\"].livenessProbe.timeoutSeconds: expected numeric (int or float), got string \"connection refused\"",
            "",
        )
        .with_code(500);
        assert!(matches!(
            classify(kube::Error::Api(typed.boxed())),
            Failure::Status(_)
        ));
    }

    /// Connections refused and reset by a real socket, through kube's client.
    #[tokio::test]
    async fn refused_and_reset_connections_are_blips() {
        let request = || {
            http::Request::get("/api/v1/namespaces")
                .body(Vec::new())
                .expect("request")
        };
        let client_for = |port: u16| {
            let config =
                kube::Config::new(format!("http://127.0.0.1:{port}").parse().expect("url"));
            kube::Client::try_from(config).expect("client")
        };
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let refused = client_for(port)
            .request::<serde_json::Value>(request())
            .await
            .expect_err("refused");
        assert!(is_connection_blip(&refused), "{refused:?}");
        assert!(!maybe_delivered(&refused), "{refused:?}");
        assert!(matches!(classify(refused), Failure::Unreachable(_)));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.readable().await;
                let _ = socket.try_read(&mut buf);
                // Linger 0: close with a reset, as a load balancer dropping the connection.
                let _ = socket.set_zero_linger();
                drop(socket);
            }
        });
        let reset = client_for(port)
            .request::<serde_json::Value>(request())
            .await
            .expect_err("reset");
        assert!(is_connection_blip(&reset), "{reset:?}");
        assert!(matches!(classify(reset), Failure::Transient { .. }));
    }

    #[test]
    fn lost_and_refused_connections_are_blips_but_dns_and_tls_failures_are_not() {
        let io = |kind: ErrorKind| kube::Error::Service(Box::new(std::io::Error::from(kind)));
        for kind in [
            ErrorKind::ConnectionRefused,
            ErrorKind::ConnectionReset,
            ErrorKind::TimedOut,
            ErrorKind::UnexpectedEof,
        ] {
            assert!(is_connection_blip(&io(kind)), "{kind:?}");
        }
        assert!(!is_connection_blip(&io(ErrorKind::InvalidData)));
        let dns = kube::Error::Service(Box::new(std::io::Error::other(
            "dns error: failed to lookup address information: Name or service not known",
        )));
        assert!(!is_connection_blip(&dns));
        assert!(!is_connection_blip(&status(503, "ServiceUnavailable")));
    }

    #[test]
    fn only_a_broken_connection_may_have_delivered_the_request() {
        let io = |kind: ErrorKind| kube::Error::Service(Box::new(std::io::Error::from(kind)));
        assert!(maybe_delivered(&io(ErrorKind::ConnectionReset)));
        assert!(maybe_delivered(&io(ErrorKind::TimedOut)));
        assert!(!maybe_delivered(&io(ErrorKind::ConnectionRefused)));
        assert!(!maybe_delivered(&status(503, "ServiceUnavailable")));
    }

    #[test]
    fn rejections_are_statuses_and_401_is_unauthorized() {
        assert!(matches!(
            classify(status(422, "Invalid")),
            Failure::Status(_)
        ));
        assert!(matches!(
            classify(status(403, "Forbidden")),
            Failure::Status(_)
        ));
        assert!(matches!(
            classify(status(401, "Unauthorized")),
            Failure::Unauthorized(_)
        ));
    }
}
