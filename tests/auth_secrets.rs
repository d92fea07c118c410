//! Tokens and secrets never reach logs (at any level) or error messages.

mod harness;

use harness::azure::*;
use kpush::auth::{AksTarget, AuthMethod, access_token, aks_client};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_token_or_secret_is_logged_even_at_trace_level() {
    let f = start(Duration::from_secs(3600));
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _trace = tracing::subscriber::set_default(subscriber);

    let mut errors = Vec::new();
    let github_token = f.emulator.github_request_token();
    {
        let env = f.github_env();
        let _env = EnvGuard::set(&pairs(&env)).await;
        let target = AksTarget {
            subscription: SUB.into(),
            resource_group: RG.into(),
            cluster: CLUSTER.into(),
            admin: false,
        };
        let client = aks_client(&f.settings(AuthMethod::Auto), &target)
            .await
            .unwrap();
        f.emulator.reject_next_kube_requests(1);
        client.apiserver_version().await.unwrap();
        f.emulator
            .configure(|c| c.github.subject = "repo:contoso/app:pull_request".into());
        errors.push(
            access_token(
                &f.settings(AuthMethod::GithubOidc),
                "https://management.azure.com/.default",
            )
            .await
            .unwrap_err(),
        );
    }
    {
        let _env = EnvGuard::set(&[
            ("AZURE_CLIENT_ID", SECRET_APP),
            ("AZURE_CLIENT_SECRET", SECRET),
        ])
        .await;
        let token = access_token(&f.settings(AuthMethod::ClientSecret), AKS_SCOPE)
            .await
            .unwrap();
        assert!(!format!("{token:?}").contains(token.secret()));
    }
    {
        let _env = EnvGuard::set(&[
            ("AZURE_CLIENT_ID", SECRET_APP),
            ("AZURE_CLIENT_SECRET", "wrong-secret-value"),
        ])
        .await;
        errors.push(
            access_token(&f.settings(AuthMethod::ClientSecret), AKS_SCOPE)
                .await
                .unwrap_err(),
        );
    }

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("signing in to Azure with"),
        "the log captured kpush's events:\n{log}"
    );
    let shown: String = errors.iter().map(|e| format!("{e}\n{e:?}\n")).collect();
    for (what, text) in [("log", &log), ("errors", &shown)] {
        assert!(
            !text.contains("eyJ"),
            "a JWT appears in the {what}:\n{text}"
        );
        assert!(
            !text.contains(SECRET),
            "the client secret appears in the {what}"
        );
        assert!(
            !text.contains("wrong-secret-value"),
            "the wrong secret appears in the {what}"
        );
        assert!(
            !text.contains(&github_token),
            "the GitHub request token appears in the {what}"
        );
    }
}
