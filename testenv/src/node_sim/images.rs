//! Container image references: validation and normalisation as containerd does them.

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, with port if any (`docker.io` when absent).
    pub domain: String,
    /// Repository path without the domain (`library/nginx`).
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `image` like the container runtime, or explains why it is not a valid reference.
    pub fn parse(image: &str) -> Result<ImageRef, String> {
        const INVALID: &str = "invalid reference format";
        if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(INVALID.into());
        }
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(INVALID.into());
                }
                (r, Some(d.to_string()))
            }
            None => (image, None),
        };
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|s| colon > s) => {
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if let Some(tag) = &tag
            && !valid_tag(tag)
        {
            return Err(INVALID.into());
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let domain = if parts.len() > 1 && is_domain(parts[0]) {
            let d = parts.remove(0);
            if !valid_domain(d) {
                return Err(INVALID.into());
            }
            d.to_string()
        } else {
            "docker.io".to_string()
        };
        if parts.is_empty() || name.len() > 255 {
            return Err(INVALID.into());
        }
        for part in &parts {
            if !valid_path_component(part) {
                let lowered = part.to_ascii_lowercase();
                if lowered != *part && valid_path_component(&lowered) {
                    return Err(format!("{INVALID}: repository name must be lowercase"));
                }
                return Err(INVALID.into());
            }
        }
        if domain == "docker.io" && parts.len() == 1 {
            parts.insert(0, "library");
        }
        Ok(ImageRef {
            domain,
            path: parts.join("/"),
            tag,
            digest,
        })
    }

    /// The fully qualified reference the runtime reports (`docker.io/library/nginx:latest`).
    pub fn normalized(&self) -> String {
        let mut out = format!("{}/{}", self.domain, self.path);
        match (&self.tag, &self.digest) {
            (Some(tag), _) => {
                out.push(':');
                out.push_str(tag);
            }
            (None, None) => out.push_str(":latest"),
            (None, Some(_)) => {}
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// `domain/path`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The last path component of the repository (`crashloop` for `team/crashloop:1`).
    pub fn short_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

fn is_domain(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    host_ok && port_ok
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or any number of "-".
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &part[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    match chars.next() {
        Some(c) if word(c) => {}
        _ => return false,
    }
    tag.len() <= 128 && chars.all(|c| word(c) || c == '.' || c == '-')
}

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((algo, hex)) => {
            !algo.is_empty()
                && algo
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_normalised_to_docker_hub_library() {
        let r = ImageRef::parse("nginx").unwrap();
        assert_eq!(r.normalized(), "docker.io/library/nginx:latest");
        assert_eq!(r.short_name(), "nginx");
    }

    #[test]
    fn registry_with_port_is_not_a_tag() {
        let r = ImageRef::parse("localhost:5000/team/app").unwrap();
        assert_eq!(r.domain, "localhost:5000");
        assert_eq!(r.path, "team/app");
        assert_eq!(r.tag, None);
        assert_eq!(r.normalized(), "localhost:5000/team/app:latest");
    }

    #[test]
    fn last_component_names_the_behaviour() {
        let r = ImageRef::parse("registry.example/team/crashloop:1.0").unwrap();
        assert_eq!(r.short_name(), "crashloop");
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.repository(), "registry.example/team/crashloop");
    }

    #[test]
    fn uppercase_repository_is_rejected_as_not_lowercase() {
        assert_eq!(
            ImageRef::parse("registry.example/Team/App:1").unwrap_err(),
            "invalid reference format: repository name must be lowercase"
        );
    }

    #[test]
    fn malformed_references_are_rejected() {
        for bad in [
            "",
            "nginx:",
            "nginx:-x",
            "a//b",
            "nginx@sha256:zz",
            "has space",
            "-x",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn digests_are_kept() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("nginx@{d}")).unwrap();
        assert_eq!(r.normalized(), format!("docker.io/library/nginx@{d}"));
    }
}
