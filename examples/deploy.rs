//! kpush as a library: deploy a directory to a kubeconfig's cluster and wait for the rollout,
//! with no command line and no exit codes.
//!
//! `cargo run --example deploy -- DIR [NAMESPACE]` (the kubeconfig comes from `KUBECONFIG` or
//! `~/.kube/config`, as for kubectl).

use kpush::deploy::{self, ClusterSettings, DeploySettings, Interrupt, Renders};
use kpush::event::{Event, Sink};

/// Prints the events a deploy emits, one line each (a real program would use
/// `kpush::report::Reporter`).
struct Print;

impl Sink for Print {
    fn event(&self, event: &Event) {
        match event {
            Event::Object { object, action } => println!("{} {}", object.key, action.word()),
            Event::TrackFinished { outcome } => println!("rollout: {:?}", outcome.state),
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "examples/guestbook".into());
    let mut settings = DeploySettings::new(vec![dir.into()]);
    settings.render.namespace = args.next();
    let verdict = deploy::apply(
        &settings,
        &ClusterSettings::default(),
        &Print,
        &Renders::default(),
        &Interrupt::on_signals(),
    )
    .await;
    match verdict {
        Ok(v) => println!("verdict: {v:?}"),
        Err(e) => {
            eprintln!("error ({:?}): {e}", e.outcome);
            std::process::exit(1);
        }
    }
}
