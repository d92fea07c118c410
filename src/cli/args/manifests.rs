//! Flags shared by every command that reads manifests, and their conversion to [`RenderOptions`].

use std::path::PathBuf;

use clap::Args;

use crate::render::{self, ImageOverride, RenderOptions, Vars};

/// Where the manifests are and how to transform them.
#[derive(Debug, Clone, Args)]
pub struct ManifestArgs {
    /// Manifest files or directories (recursive, *.yaml, *.yml, *.json), or `-` for standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Same as PATH, as in kubectl (repeatable; KPUSH_FILENAME takes one per line).
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "PATH",
        env = "KPUSH_FILENAME",
        value_delimiter = '\n'
    )]
    pub filenames: Vec<PathBuf>,

    /// Set a variable for ${NAME} substitution (repeatable; KPUSH_VAR takes one per line).
    #[arg(
        long = "var",
        value_name = "NAME=VALUE",
        env = "KPUSH_VAR",
        value_delimiter = '\n',
        hide_env_values = true
    )]
    pub vars: Vec<String>,

    /// Substitute ${NAME} even when no variable is given (defaults and `$${` escapes apply).
    /// Naming any variable (--var, --var-file, KPUSH_VAR_NAME) turns substitution on too.
    #[arg(long, env = "KPUSH_SUBSTITUTE")]
    pub substitute: bool,

    /// Make a ${NAME} without a value or default an error (implies --substitute).
    #[arg(long, env = "KPUSH_STRICT_VARS")]
    pub strict_vars: bool,

    /// Read variables from a dotenv file (repeatable; later files and --var win).
    #[arg(
        long = "var-file",
        value_name = "FILE",
        env = "KPUSH_VAR_FILE",
        value_delimiter = '\n'
    )]
    pub var_files: Vec<PathBuf>,

    /// Replace container images whose repository matches NAME (repeatable). REF may be a full
    /// reference, or `:tag` / `@sha256:...` to keep the repository.
    #[arg(
        long = "image",
        value_name = "NAME=REF",
        env = "KPUSH_IMAGE",
        value_delimiter = '\n'
    )]
    pub images: Vec<String>,

    /// Fail when an --image override matches no container (otherwise a warning).
    #[arg(long, env = "KPUSH_STRICT_IMAGES")]
    pub strict_images: bool,

    /// Namespace for namespaced objects that do not set one.
    #[arg(short = 'n', long, env = "KPUSH_NAMESPACE")]
    pub namespace: Option<String>,

    /// Allow objects that name a namespace other than --namespace.
    #[arg(long, env = "KPUSH_ALLOW_OTHER_NAMESPACES")]
    pub allow_other_namespaces: bool,

    /// Add a label to every object's metadata (repeatable; never to selectors).
    #[arg(
        long = "label",
        short = 'l',
        value_name = "KEY=VALUE",
        env = "KPUSH_LABEL",
        value_delimiter = '\n'
    )]
    pub labels: Vec<String>,

    /// Add an annotation to every object's metadata (repeatable).
    #[arg(
        long = "annotation",
        value_name = "KEY=VALUE",
        env = "KPUSH_ANNOTATION",
        value_delimiter = '\n'
    )]
    pub annotations: Vec<String>,

    /// Do not add the kpush.dev/* CI run annotations (repository, commit, workflow, run URL, actor).
    #[arg(long, env = "KPUSH_NO_RUN_ANNOTATIONS")]
    pub no_run_annotations: bool,

    #[command(flatten)]
    pub chart: super::chart::ChartArgs,
}

impl ManifestArgs {
    /// Whether any PATH is a Helm chart (rendering it then needs the cluster's capabilities).
    pub fn has_charts(&self) -> bool {
        self.paths
            .iter()
            .chain(&self.filenames)
            .any(|p| render::chart::is_chart(p))
    }

    /// Builds render options, reading var files; `env` is the process environment (used for
    /// `KPUSH_VAR_*` variables and CI run annotations). Errors are flag problems (exit code 2).
    pub fn to_options(&self, env: &crate::cli::Env) -> Result<RenderOptions, String> {
        let mut errors = Vec::new();
        // Precedence, lowest first: KPUSH_VAR_NAME, --var-file (in order), --var.
        let mut vars = Vars::from_env(env).unwrap_or_else(|e| {
            errors.extend(e);
            Vars::new()
        });
        for f in &self.var_files {
            if let Err(e) = vars.load_dotenv(f) {
                errors.push(e);
            }
        }
        for v in &self.vars {
            if let Err(e) = vars.set_pair(v) {
                errors.push(e);
            }
        }
        let mut images = Vec::new();
        for i in &self.images {
            match ImageOverride::parse(i) {
                Ok(o) => images.push(o),
                Err(e) => errors.push(e),
            }
        }
        let mut labels = Vec::new();
        for l in &self.labels {
            match render::metadata::parse_pair(l, true) {
                Ok(p) => labels.push(p),
                Err(e) => errors.push(e),
            }
        }
        let mut annotations = Vec::new();
        for a in &self.annotations {
            match render::metadata::parse_pair(a, false) {
                Ok(p) => annotations.push(p),
                Err(e) => errors.push(e),
            }
        }
        if let Some(Err(e)) = self
            .namespace
            .as_deref()
            .map(render::namespace::validate_name)
        {
            errors.push(e);
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        let mut paths = self.paths.clone();
        paths.extend(
            self.filenames
                .iter()
                .filter(|p| !p.as_os_str().is_empty())
                .cloned(),
        );
        Ok(RenderOptions {
            paths,
            substitution: render::Substitution::from_flags(
                &vars,
                self.substitute,
                self.strict_vars,
            ),
            vars,
            images,
            strict_images: self.strict_images,
            namespace: self.namespace.clone(),
            allow_other_namespaces: self.allow_other_namespaces,
            labels,
            annotations,
            run_env: (!self.no_run_annotations).then(|| env.clone()),
            chart: self.chart.to_options(self.namespace.clone()),
            // Filled by `cli::settings::sops` (it needs the Azure flags for Key Vault).
            sops: Default::default(),
        })
    }
}
