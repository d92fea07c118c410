//! Rendering for a deploy: charts get the cluster's `.Capabilities`; targets that render the
//! same way share one render ([`Renders`], keyed by a typed [`RenderKey`]).

use std::sync::Mutex;

use crate::event::{Event, Outcome, Sink};
use crate::manifest::Manifest;
use crate::render::{self, ImageOverride, RenderOptions, Vars};

use super::connect::{self, ClusterSettings};
use super::error::{self, DeployError};

/// Whether any path is a Helm chart (rendering it then needs the cluster's capabilities).
pub fn has_charts(opts: &RenderOptions) -> bool {
    opts.paths.iter().any(|p| render::chart::is_chart(p))
}

/// Renders (standard input for `-`), handing warnings and the images found to `sink`; invalid
/// input for bad manifests. Charts are rendered with `cluster`'s version and API versions as
/// `.Capabilities` (and its default namespace as the release's), as Helm release `release`
/// (default: the chart's name).
pub async fn render(
    opts: &RenderOptions,
    sink: &dyn Sink,
    cluster: Option<&kube::Client>,
    release: Option<&str>,
) -> Result<Vec<Manifest>, DeployError> {
    let Some(client) = cluster.filter(|_| has_charts(opts)) else {
        return render_with(opts, sink, None, release);
    };
    let capabilities = super::capabilities::discover(client, Default::default())
        .await
        .map_err(|f| {
            DeployError::new(
                Outcome::Unreachable,
                anyhow::anyhow!(
                    "cannot ask the cluster for its version and API versions, which the \
                     chart's .Capabilities need: {}; nothing was applied",
                    f.message()
                ),
            )
        })?;
    render_with(
        opts,
        sink,
        Some((capabilities, client.default_namespace())),
        release,
    )
}

/// Renders without a cluster (`kpush render`): charts get `--kube-version` or helm's default.
pub fn render_offline(
    opts: &RenderOptions,
    sink: &dyn Sink,
    release: Option<&str>,
) -> Result<Vec<Manifest>, DeployError> {
    render_with(opts, sink, None, release)
}

fn render_with(
    opts: &RenderOptions,
    sink: &dyn Sink,
    cluster: Option<(render::chart::Capabilities, &str)>,
    release: Option<&str>,
) -> Result<Vec<Manifest>, DeployError> {
    let mut opts = opts.clone();
    opts.chart.release = release.filter(|r| !r.is_empty()).map(str::to_string);
    if let Some((capabilities, namespace)) = cluster {
        opts.chart.capabilities = capabilities;
        opts.chart
            .namespace
            .get_or_insert_with(|| namespace.to_string());
    }
    let rendered = render::render(&opts, &mut std::io::stdin().lock())
        .map_err(|e| DeployError::new(Outcome::InvalidInput, e))?;
    // Values decrypted from SOPS files are masked before anything could print them.
    for secret in &rendered.secrets {
        sink.mask(secret);
    }
    for problem in rendered.warnings {
        sink.event(&Event::Problem { problem });
    }
    sink.event(&Event::Rendered {
        objects: rendered.manifests.len(),
        images: render::images::images(&rendered.manifests),
    });
    Ok(rendered.manifests)
}

/// Connects to `cluster`: its client and address (for messages).
pub async fn connect(cluster: &ClusterSettings) -> Result<(kube::Client, String), DeployError> {
    connect::connect_to(cluster)
        .await
        .map_err(|e| DeployError::new(error::of_connect_error(&e), e))
}

/// What makes two renders of the same paths differ: namespace, variables and images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderKey {
    namespace: Option<String>,
    vars: Vars,
    images: Vec<ImageOverride>,
}

impl RenderKey {
    /// The key of `opts`.
    pub fn of(opts: &RenderOptions) -> Self {
        Self {
            namespace: opts.namespace.clone(),
            vars: opts.vars.clone(),
            images: opts.images.clone(),
        }
    }
}

/// Rendered manifests by their [`RenderKey`]: targets that share one are rendered once.
/// Charts, whose rendering depends on the cluster, are never shared.
///
/// A render is kept only while targets still expect it ([`Renders::expect`] tells how many
/// share each key): the last of them takes it, and a single-cluster run keeps no copy at all
/// (with 10,000 objects a copy is about 50 MB).
#[derive(Default)]
pub struct Renders {
    done: Mutex<Vec<(RenderKey, Rendered)>>,
    /// Renders still to come for each key, beyond the one being made.
    expected: Mutex<Vec<(RenderKey, usize)>>,
}

/// One render's objects and the images they deploy.
type Rendered = (Vec<Manifest>, Vec<String>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Renders {
    /// [`render`], from the cache when the same key was rendered before.
    pub async fn render(
        &self,
        opts: &RenderOptions,
        sink: &dyn Sink,
        cluster: Option<&kube::Client>,
        release: Option<&str>,
    ) -> Result<Vec<Manifest>, DeployError> {
        if has_charts(opts) {
            return render(opts, sink, cluster, release).await;
        }
        let key = RenderKey::of(opts);
        let mut done = lock(&self.done);
        // Whether a later target still needs this render after this one.
        let keep = match lock(&self.expected).iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        if let Some(i) = done.iter().position(|(k, _)| *k == key) {
            let (key, (manifests, images)) = done.swap_remove(i);
            sink.event(&Event::Rendered {
                objects: manifests.len(),
                images: images.clone(),
            });
            if keep {
                done.push((key, (manifests.clone(), images)));
            }
            return Ok(manifests);
        }
        let manifests = render_offline(opts, sink, release)?;
        if keep {
            let images = render::images::images(&manifests);
            done.push((key, (manifests.clone(), images)));
        }
        Ok(manifests)
    }

    /// Whether no render is kept.
    pub fn is_empty(&self) -> bool {
        lock(&self.done).is_empty()
    }

    /// Records that one render of each of `keys` (one per target) is coming.
    pub fn expect(&self, keys: impl IntoIterator<Item = RenderKey>) {
        let mut expected = lock(&self.expected);
        for key in keys {
            // The first render of a key is made, not kept: count only the later ones.
            match expected.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => expected.push((key, 0)),
            }
        }
    }

    /// Renders `opts` ([`Renders::render`]) and connects to `cluster`. A chart's
    /// `.Capabilities` are the cluster's, so with charts the connection comes first; without,
    /// the render does, so bad manifests fail without asking a cluster.
    pub async fn render_connected(
        &self,
        opts: &RenderOptions,
        cluster: &ClusterSettings,
        sink: &dyn Sink,
        release: Option<&str>,
    ) -> Result<(Vec<Manifest>, kube::Client, String), DeployError> {
        let early = match has_charts(opts) {
            true => Some(connect(cluster).await?),
            false => None,
        };
        let manifests = self
            .render(opts, sink, early.as_ref().map(|(c, _)| c), release)
            .await?;
        if manifests.is_empty() {
            sink.event(&Event::Warning {
                object: None,
                message: "the manifests rendered no objects (an empty input, directory or \
                          chart render); with a release, kpush refuses to prune its objects \
                          unless --allow-empty is given"
                    .into(),
            });
        }
        let (client, server) = match early {
            Some(c) => c,
            None => connect(cluster).await?,
        };
        Ok((manifests, client, server))
    }
}
