//! Which proxy, if any, carries kpush's connections to the API server.
//!
//! A kubeconfig's `proxy-url` wins. Otherwise the environment decides, with the rules curl and
//! reqwest use (hyper-util's matcher, the same one behind kpush's Entra ID, ARM and CI token
//! requests): `HTTPS_PROXY`/`https_proxy` for an `https://` server (`HTTP_PROXY`/`http_proxy`
//! for `http://`), then `ALL_PROXY`/`all_proxy`, unless `NO_PROXY`/`no_proxy` lists the server
//! (host names, domain suffixes, IP addresses, CIDR ranges, `*`).

use hyper_util::client::proxy::matcher::Matcher;

/// The variables that may name a proxy for a server of `scheme`, in the order they count.
fn proxy_variables(scheme: &str) -> &'static [&'static str] {
    if scheme == "http" {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    }
}

/// The proxy the environment `env` chooses for `server`, as written there (credentials
/// included), with `http://` added when it names no scheme. `None`: connect directly.
pub fn from_env(
    server: &http::Uri,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<http::Uri>, String> {
    let value = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let scheme = server.scheme_str().unwrap_or("https");
    let Some((name, raw)) = proxy_variables(scheme)
        .iter()
        .find_map(|n| value(n).map(|v| (*n, v)))
    else {
        return Ok(None);
    };
    let proxy = parse(name, &raw)?;
    let mut builder = Matcher::builder();
    if scheme == "http" {
        builder = builder.http(raw.clone());
    } else {
        builder = builder.https(raw.clone());
    }
    if let Some(no) = value("NO_PROXY").or_else(|| value("no_proxy")) {
        builder = builder.no(no);
    }
    if builder.build().intercept(server).is_none() {
        return Ok(None);
    }
    Ok(Some(proxy))
}

/// Checks the variable that names the proxy for `https://` servers (Entra ID, ARM, AKS and
/// Fleet hubs are all https): an unparsable one is an error on every path, never ignored.
pub fn check_https_env(env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    let found = proxy_variables("https")
        .iter()
        .find_map(|n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)));
    match found {
        Some((name, raw)) => parse(name, &raw).map(|_| ()),
        None => Ok(()),
    }
}

/// The proxy URL in variable `name` (`http://` added when it names no scheme), or an error
/// naming the variable and its value (password hidden) and saying what to do.
fn parse(name: &str, raw: &str) -> Result<http::Uri, String> {
    let with_scheme = if raw.contains("://") {
        raw.trim().to_string()
    } else {
        format!("http://{}", raw.trim())
    };
    let uri = with_scheme.parse::<http::Uri>().map_err(|e| e.to_string());
    match uri {
        Ok(u) if u.authority().is_some_and(|a| !a.host().is_empty()) => Ok(u),
        Ok(_) => Err(bad_proxy(name, raw, "it names no host")),
        Err(e) => Err(bad_proxy(name, raw, &e)),
    }
}

fn bad_proxy(name: &str, raw: &str, why: &str) -> String {
    format!(
        "{name}={} is not a proxy URL ({why})\n  fix: set {name} to http://HOST:PORT (with \
         USER:PASSWORD@ before the host if the proxy needs it, special characters \
         percent-encoded), or unset it to connect directly",
        redact_password(raw.trim())
    )
}

/// `http://user:secret@host:1` → `http://user:***@host:1`; works on text that is no URL.
pub fn redact_password(value: &str) -> String {
    let start = value.find("://").map_or(0, |i| i + 3);
    let Some(at) = value[start..].rfind('@').map(|i| start + i) else {
        return value.to_string();
    };
    match value[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &value[..start + colon], &value[at..]),
        None => value.to_string(),
    }
}

/// Reads a process variable.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(server: &str, vars: &[(&str, &str)]) -> Option<String> {
        let env = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        from_env(&server.parse().unwrap(), &env)
            .unwrap()
            .map(|u| u.to_string())
    }

    const AKS: &str = "https://aks-prod-dns-1a2b.hcp.westeurope.azmk8s.io:443";

    #[test]
    fn https_proxy_in_either_case_carries_an_https_server() {
        assert_eq!(
            choose(AKS, &[("HTTPS_PROXY", "http://proxy:3128")]).as_deref(),
            Some("http://proxy:3128/")
        );
        assert_eq!(
            choose(AKS, &[("https_proxy", "proxy.corp:8080")]).as_deref(),
            Some("http://proxy.corp:8080/")
        );
        assert_eq!(choose(AKS, &[("HTTP_PROXY", "http://proxy:3128")]), None);
        assert_eq!(
            choose(AKS, &[("ALL_PROXY", "http://all:1")]).as_deref(),
            Some("http://all:1/")
        );
    }

    #[test]
    fn credentials_in_the_proxy_url_are_kept() {
        assert_eq!(
            choose(
                AKS,
                &[("HTTPS_PROXY", "http://ci%40corp:p%3Ass@proxy:3128")]
            )
            .as_deref(),
            Some("http://ci%40corp:p%3Ass@proxy:3128/")
        );
    }

    #[test]
    fn no_proxy_in_either_case_exempts_hosts_suffixes_and_ranges() {
        let proxy = ("HTTPS_PROXY", "http://proxy:3128");
        for no in [
            ".azmk8s.io",
            "azmk8s.io",
            "*",
            "example.com,hcp.westeurope.azmk8s.io",
        ] {
            assert_eq!(choose(AKS, &[proxy, ("NO_PROXY", no)]), None, "{no}");
            assert_eq!(choose(AKS, &[proxy, ("no_proxy", no)]), None, "{no}");
        }
        assert_eq!(
            choose(
                "https://10.1.2.3:6443",
                &[proxy, ("NO_PROXY", "10.0.0.0/8")]
            ),
            None
        );
        assert!(
            choose(
                "https://10.1.2.3:6443",
                &[proxy, ("NO_PROXY", "192.168.0.0/16")]
            )
            .is_some()
        );
        assert!(choose(AKS, &[proxy, ("NO_PROXY", "example.com")]).is_some());
    }

    #[test]
    fn a_plain_http_server_uses_http_proxy() {
        assert_eq!(
            choose("http://127.0.0.1:8080", &[("HTTP_PROXY", "http://p:1")]).as_deref(),
            Some("http://p:1/")
        );
    }

    #[test]
    fn an_unparsable_proxy_names_the_variable() {
        let env = |n: &str| (n == "HTTPS_PROXY").then(|| "http://bad host:1".to_string());
        let err = from_env(&AKS.parse().unwrap(), &env).unwrap_err();
        assert!(err.contains("HTTPS_PROXY=http://bad host:1"), "{err}");
        assert!(err.contains("fix:"), "{err}");
        assert_eq!(check_https_env(&env), Err(err));
    }

    #[test]
    fn an_unparsable_proxy_is_named_without_its_password() {
        let env = |n: &str| (n == "https_proxy").then(|| "http://ci:s3cr3t@bad host:1".to_string());
        let err = check_https_env(&env).unwrap_err();
        assert!(
            err.starts_with("https_proxy=http://ci:***@bad host:1 is not a proxy URL"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        assert_eq!(redact_password("ci:pw@proxy:1"), "ci:***@proxy:1");
        assert_eq!(redact_password("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(
            redact_password("http://a@b:c@proxy:1"),
            "http://a@b:***@proxy:1"
        );
        let none = |_: &str| None;
        assert_eq!(check_https_env(&none), Ok(()));
    }
}
