//! `kpush-dev-cluster up [--dir DIR] [--proxy-rtt-ms N]`: runs a test cluster in the foreground
//! until SIGINT or SIGTERM, with kubeconfigs for admin, alice and bob in DIR (default
//! `.dev-cluster`), and with `--proxy-rtt-ms` an admin kubeconfig through a fault proxy that
//! adds N ms of round trip (benchmarks at a real network distance).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kpush_testenv::{ClusterOptions, FaultProxy, TestCluster, USERS};

const USAGE: &str = "usage: kpush-dev-cluster up [--dir DIR] [--proxy-rtt-ms N]

Runs etcd, kube-apiserver, kube-controller-manager and the node simulator until interrupted.
Writes DIR/kubeconfig (admin), DIR/kubeconfig-alice, DIR/kubeconfig-bob and DIR/ready.
With --proxy-rtt-ms N, also DIR/kubeconfig-rtt: admin through a proxy adding N ms of round trip.
DIR defaults to .dev-cluster in the current directory.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kpush-dev-cluster: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut dir = PathBuf::from(".dev-cluster");
    let mut rtt_ms = None;
    let mut command = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "up" => command = Some("up"),
            "--dir" => dir = PathBuf::from(it.next().context("--dir needs a value")?),
            "--proxy-rtt-ms" => {
                let v = it.next().context("--proxy-rtt-ms needs a value")?;
                rtt_ms = Some(
                    v.parse::<u64>()
                        .with_context(|| format!("--proxy-rtt-ms {v:?} is not a number"))?,
                );
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
        }
    }
    if command != Some("up") {
        bail!("{USAGE}");
    }
    up(&dir, rtt_ms)
}

fn up(dir: &Path, rtt_ms: Option<u64>) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    eprintln!(
        "kpush-dev-cluster: starting (etcd, kube-apiserver, kube-controller-manager, node simulator)"
    );
    let started = std::time::Instant::now();
    let cluster = TestCluster::start(ClusterOptions::default())?;
    for (user, _) in USERS {
        let name = if user == "admin" {
            "kubeconfig".to_string()
        } else {
            format!("kubeconfig-{user}")
        };
        cluster.write_kubeconfig(user, &dir.join(name))?;
    }
    let proxy = match rtt_ms {
        Some(ms) => {
            // HTTP/2 offered as the API server offers it: clients speak what they would.
            let proxy = FaultProxy::start_http2(&cluster)?;
            proxy.set_round_trip(std::time::Duration::from_millis(ms));
            proxy.write_kubeconfig(&cluster, "admin", &dir.join("kubeconfig-rtt"))?;
            eprintln!(
                "kpush-dev-cluster: {}/kubeconfig-rtt goes through {} (+{ms} ms round trip)",
                dir.display(),
                proxy.url()
            );
            Some(proxy)
        }
        None => None,
    };
    std::fs::write(
        &ready,
        format!(
            "server={}\nlogs={}\n",
            cluster.server(),
            cluster.dir().display()
        ),
    )?;
    let kubeconfig = std::fs::canonicalize(dir.join("kubeconfig"))?;
    println!(
        "kpush-dev-cluster: up in {:.1}s at {}\n  logs: {}\n  export KUBECONFIG={}",
        started.elapsed().as_secs_f64(),
        cluster.server(),
        cluster.dir().display(),
        kubeconfig.display()
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })?;
    eprintln!("kpush-dev-cluster: stopping");
    let _ = std::fs::remove_file(&ready);
    drop(proxy);
    drop(cluster);
    Ok(())
}
