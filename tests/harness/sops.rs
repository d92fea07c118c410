//! The real `sops` (built from Go modules by scripts/build-sops.sh, cached) and age keys, for
//! tests that encrypt their fixtures at test time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use age::secrecy::ExposeSecret;

/// The real sops: `KPUSH_SOPS`, else built (once, then cached) by scripts/build-sops.sh.
pub fn sops() -> &'static Path {
    static SOPS: OnceLock<PathBuf> = OnceLock::new();
    SOPS.get_or_init(|| {
        if let Ok(p) = std::env::var("KPUSH_SOPS") {
            return PathBuf::from(p);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("bash")
            .arg(root.join("scripts/build-sops.sh"))
            .output()
            .expect("run scripts/build-sops.sh");
        assert!(
            out.status.success(),
            "scripts/build-sops.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
}

pub struct AgeKey {
    pub identity: String,
    pub recipient: String,
}

/// An X25519 age key pair (what most repositories use today).
#[allow(deprecated)]
pub fn age_key() -> AgeKey {
    let id = age::x25519::Identity::generate();
    AgeKey {
        identity: id.to_string().expose_secret().to_string(),
        recipient: id.to_public().to_string(),
    }
}

/// Encrypts `dir/name` in place with the real sops for `recipient`, with extra `args`.
pub fn encrypt(dir: &Path, name: &str, recipient: &str, args: &[&str]) {
    let out = Command::new(sops())
        .current_dir(dir)
        .args(["--disable-version-check", "encrypt", "--age", recipient])
        .args(args)
        .args(["--in-place", name])
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .expect("run sops");
    assert!(
        out.status.success(),
        "sops encrypt {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
