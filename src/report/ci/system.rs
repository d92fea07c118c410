//! Which CI system kpush runs in: detected from the environment, or set by `--ci`.

use std::collections::BTreeMap;

/// The `--ci` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CiMode {
    /// Detect from the environment.
    #[default]
    Auto,
    /// GitHub Actions workflow commands, job summary and step outputs.
    Github,
    /// Azure Pipelines logging commands, summary and output variables.
    AzureDevops,
    /// GitLab CI collapsible sections and a dotenv output file.
    Gitlab,
    /// Plain output, whatever the environment says.
    None,
}

/// A CI system whose log dialect kpush speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiSystem {
    /// GitHub Actions.
    Github,
    /// Azure Pipelines.
    AzureDevOps,
    /// GitLab CI.
    Gitlab,
    /// No CI system (or one without a dialect): plain lines.
    Plain,
}

/// The CI system to speak to: `mode` unless it is `Auto`, else what `env` says.
pub fn detect(mode: CiMode, env: &BTreeMap<String, String>) -> CiSystem {
    match mode {
        CiMode::Github => CiSystem::Github,
        CiMode::AzureDevops => CiSystem::AzureDevOps,
        CiMode::Gitlab => CiSystem::Gitlab,
        CiMode::None => CiSystem::Plain,
        CiMode::Auto => {
            let is = |k: &str, v: &str| env.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v));
            if is("GITHUB_ACTIONS", "true") {
                CiSystem::Github
            } else if is("TF_BUILD", "true") {
                CiSystem::AzureDevOps
            } else if is("GITLAB_CI", "true") {
                CiSystem::Gitlab
            } else {
                CiSystem::Plain
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn detects_ci_systems_from_their_variables() {
        let gh = env(&[("GITHUB_ACTIONS", "true")]);
        let ado = env(&[("TF_BUILD", "True")]);
        let gl = env(&[("GITLAB_CI", "true")]);
        assert_eq!(detect(CiMode::Auto, &gh), CiSystem::Github);
        assert_eq!(detect(CiMode::Auto, &ado), CiSystem::AzureDevOps);
        assert_eq!(detect(CiMode::Auto, &gl), CiSystem::Gitlab);
        assert_eq!(detect(CiMode::Auto, &env(&[])), CiSystem::Plain);
        assert_eq!(
            detect(CiMode::Auto, &env(&[("GITHUB_ACTIONS", "false")])),
            CiSystem::Plain
        );
    }

    #[test]
    fn the_setting_overrides_detection() {
        let gh = env(&[("GITHUB_ACTIONS", "true")]);
        assert_eq!(detect(CiMode::None, &gh), CiSystem::Plain);
        assert_eq!(detect(CiMode::AzureDevops, &gh), CiSystem::AzureDevOps);
        assert_eq!(detect(CiMode::Github, &env(&[])), CiSystem::Github);
    }
}
