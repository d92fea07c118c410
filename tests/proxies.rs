//! kpush behind an HTTP CONNECT proxy (corporate networks, self-hosted runners, Azure DevOps
//! agents): `HTTPS_PROXY`/`https_proxy`, `NO_PROXY`/`no_proxy` and a kubeconfig's `proxy-url`,
//! through a real tunnelling proxy (`kpush_testenv::ConnectProxy`).

mod harness;

use harness::binary::{Ctx, Run};
use kpush_testenv::ConnectProxy;

/// A port nothing listens on: a proxy that is down.
fn dead_proxy() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    format!("http://127.0.0.1:{port}")
}

fn apiserver_authority(ctx: &Ctx) -> String {
    ctx.cluster
        .server()
        .trim_start_matches("https://")
        .to_string()
}

async fn ctx_with_objects(name: &str) -> Ctx {
    let ctx = Ctx::new(name).await;
    for i in 0..3 {
        ctx.write(
            &format!("cm-{i}.yaml"),
            &harness::binary::config_map(&format!("cm-{i}"), "x"),
        );
    }
    ctx
}

fn apply_with(ctx: &Ctx, env: &[(&str, &str)]) -> Run {
    ctx.kpush_env("admin", &["apply", &ctx.path().display().to_string()], env)
}

#[tokio::test]
async fn https_proxy_in_either_case_carries_the_cluster_connection() {
    let ctx = ctx_with_objects("proxy-env").await;
    for var in ["HTTPS_PROXY", "https_proxy"] {
        let proxy = ConnectProxy::start().expect("proxy");
        let run = apply_with(&ctx, &[(var, &proxy.url())]);
        run.expect_code(0);
        let tunnels = proxy.tunnels();
        assert!(
            tunnels
                .iter()
                .any(|t| t.opened && t.target == apiserver_authority(&ctx)),
            "{var}: no tunnel to the API server: {tunnels:?}"
        );
        assert!(tunnels.iter().all(|t| t.opened), "{tunnels:?}");
    }
}

#[tokio::test]
async fn no_proxy_in_either_case_exempts_the_cluster() {
    let ctx = ctx_with_objects("proxy-exempt").await;
    let dead = dead_proxy();
    for var in ["NO_PROXY", "no_proxy"] {
        let run = apply_with(&ctx, &[("HTTPS_PROXY", &dead), (var, "127.0.0.0/8")]);
        run.expect_code(0);
    }
    let run = apply_with(
        &ctx,
        &[("https_proxy", &dead), ("NO_PROXY", "localhost,127.0.0.1")],
    );
    run.expect_code(0);
}

#[tokio::test]
async fn a_proxy_that_is_down_is_reported_as_unreachable() {
    let ctx = ctx_with_objects("proxy-down").await;
    let run = apply_with(&ctx, &[("HTTPS_PROXY", &dead_proxy())]);
    assert_eq!(run.code, 6, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("refused"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("(through the proxy http://127.0.0.1:"),
        "{}",
        run.stderr
    );
}

/// The admin kubeconfig with `proxy-url` set on its cluster.
fn kubeconfig_with_proxy(ctx: &Ctx, proxy_url: &str) -> tempfile::NamedTempFile {
    let text = ctx.cluster.kubeconfig("admin").expect("kubeconfig");
    let server_line = format!("    server: {}\n", ctx.cluster.server());
    assert!(text.contains(&server_line));
    let text = text.replace(
        &server_line,
        &format!("{server_line}    proxy-url: {proxy_url}\n"),
    );
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write kubeconfig");
    file
}

fn apply_with_kubeconfig(ctx: &Ctx, kubeconfig: &std::path::Path, env: &[(&str, &str)]) -> Run {
    harness::binary::kpush_with_env(
        &[
            "apply".into(),
            ctx.path().display().to_string(),
            "--kubeconfig".into(),
            kubeconfig.display().to_string(),
            "-n".into(),
            ctx.namespace.clone(),
        ],
        env,
    )
}

#[tokio::test]
async fn kubeconfig_proxy_url_with_credentials_wins_over_the_environment() {
    let ctx = ctx_with_objects("proxy-kubeconfig").await;
    let proxy = ConnectProxy::with_basic_auth("ci@corp", "p:ss").expect("proxy");
    let url = proxy.url().replace("http://", "http://ci%40corp:p%3Ass@");
    let kubeconfig = kubeconfig_with_proxy(&ctx, &url);
    // The environment names a proxy that is down; the kubeconfig's proxy-url wins.
    let run = apply_with_kubeconfig(&ctx, kubeconfig.path(), &[("HTTPS_PROXY", &dead_proxy())]);
    run.expect_code(0);
    let tunnels = proxy.tunnels();
    assert!(
        tunnels
            .iter()
            .any(|t| t.opened && t.target == apiserver_authority(&ctx)),
        "{tunnels:?}"
    );

    let wrong = proxy.url().replace("http://", "http://ci%40corp:wrong@");
    let kubeconfig = kubeconfig_with_proxy(&ctx, &wrong);
    let run = apply_with_kubeconfig(&ctx, kubeconfig.path(), &[]);
    assert_eq!(run.code, 6, "{}\n{}", run.stdout, run.stderr);
    assert!(proxy.tunnels().iter().any(|t| !t.opened));
    assert!(
        !run.stderr.contains("wrong"),
        "the proxy password is printed: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("(through the proxy http://127.0.0.1:"),
        "{}",
        run.stderr
    );
}

/// The same rule as on the AKS path (tests/aks_e2e.rs): an unparsable proxy variable is an
/// error that names it and its value, password hidden, and says what to do.
#[tokio::test]
async fn an_unparsable_https_proxy_is_an_error_naming_it_without_its_password() {
    let ctx = ctx_with_objects("proxy-unparsable").await;
    let run = apply_with(
        &ctx,
        &[("https_proxy", "http://ci:pr0xy-pa55@bad host:3128")],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("https_proxy=http://ci:***@bad host:3128 is not a proxy URL"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("or unset it"), "{}", run.stderr);
    assert!(!run.stderr.contains("pr0xy-pa55"), "{}", run.stderr);
}
