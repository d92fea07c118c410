//! SOPS-encrypted manifests: fixtures are encrypted at test time by the real `sops`
//! (scripts/build-sops.sh, cached under ~/.cache/kpush/tools) and rendered by the library.

mod harness;

use std::path::Path;
use std::process::Command;

use age::secrecy::ExposeSecret;
use harness::sops::{AgeKey, age_key, encrypt, sops};
use kpush::render::sops::SopsKeys;
use kpush::render::{ProblemKind, RenderOptions, Rendered, render, secrets};

/// A hybrid post-quantum age key pair (`age1pq1…`), which sops accepts too.
fn pq_age_key() -> AgeKey {
    let id = age::pq::Identity::generate();
    AgeKey {
        identity: id.to_string().expose_secret().to_string(),
        recipient: id.to_public().to_string(),
    }
}

fn keys(identity: &str) -> SopsKeys {
    let mut k = SopsKeys::default();
    k.add_age_identities(&format!("# created: today\n{identity}\n"));
    k
}

fn render_path(path: &Path, keys: SopsKeys) -> Result<Rendered, kpush::render::RenderError> {
    let opts = RenderOptions {
        paths: vec![path.to_path_buf()],
        sops: keys,
        ..Default::default()
    };
    render(&opts, &mut std::io::empty())
}

const SECRET: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
  labels:
    tier: backend
type: Opaque
stringData:
  password: correct-horse-battery
  port: \"5432\"
data:
  token: aHVudGVyMi10b2tlbg==
";

#[test]
fn secret_encrypted_with_a_regex_renders_decrypted_and_keeps_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_key();
    std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
    encrypt(
        dir.path(),
        "secret.yaml",
        &key.recipient,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    let enc = std::fs::read_to_string(dir.path().join("secret.yaml")).unwrap();
    assert!(enc.contains("password: ENC[AES256_GCM,") && !enc.contains("correct-horse"));

    let r = render_path(&dir.path().join("secret.yaml"), keys(&key.identity)).unwrap();
    assert_eq!(r.manifests.len(), 1);
    let o = &r.manifests[0].object;
    assert_eq!(o["stringData"]["password"], "correct-horse-battery");
    assert_eq!(o["stringData"]["port"], "5432");
    assert_eq!(o["data"]["token"], "aHVudGVyMi10b2tlbg==");
    assert_eq!(o["metadata"]["labels"]["tier"], "backend");
    assert!(
        o.get("sops").is_none(),
        "the sops block is not an object field"
    );
    assert_eq!(r.manifests[0].origin.line, 1);
    assert!(r.secrets.contains(&"correct-horse-battery".to_string()));
    // Printed (redacted) output hides it.
    let shown = secrets::redacted(o).to_string();
    assert!(!shown.contains("correct-horse"), "{shown}");
}

#[test]
fn whole_files_decrypt_yaml_types_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let key = pq_age_key();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  \
         selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    \
         spec:\n      automountServiceAccountToken: false\n      containers:\n      - name: app\n        \
         image: nginx:1.27\n        env:\n        - name: DSN\n          value: postgres://app:pw-in-env@db/app\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  ratio: \"0.75\"\n",
    )
    .unwrap();
    encrypt(dir.path(), "app.yaml", &key.recipient, &[]);
    std::fs::write(
        dir.path().join("cm.json"),
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json-cm"}, "data": {"api-key": "k-123456", "quote": "say \"hi\"\n"}}"#,
    )
    .unwrap();
    encrypt(dir.path(), "cm.json", &key.recipient, &[]);
    assert!(
        std::fs::read_to_string(dir.path().join("cm.json"))
            .unwrap()
            .contains("\"sops\"")
    );

    let r = render_path(dir.path(), keys(&key.identity)).unwrap();
    let by_name = |n: &str| {
        r.manifests
            .iter()
            .find(|m| m.object["metadata"]["name"] == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    let web = &by_name("web").object;
    assert_eq!(web["spec"]["replicas"], 3);
    assert_eq!(
        web["spec"]["template"]["spec"]["automountServiceAccountToken"],
        false
    );
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "postgres://app:pw-in-env@db/app"
    );
    assert_eq!(by_name("settings").object["data"]["ratio"], "0.75");
    let cm = &by_name("json-cm").object;
    assert_eq!(cm["data"]["api-key"], "k-123456");
    assert_eq!(cm["data"]["quote"], "say \"hi\"\n");
    // The second document starts where it does in the encrypted file.
    let enc = std::fs::read_to_string(dir.path().join("app.yaml")).unwrap();
    let second = enc.lines().position(|l| l == "---").unwrap() as u32 + 2;
    assert_eq!(by_name("settings").origin.line, second);

    // A decrypted value outside a Secret is redacted when printed and listed for masking.
    assert!(secrets::needs_redaction(web));
    assert!(!secrets::redacted(web).to_string().contains("pw-in-env"));
    assert!(
        secrets::values(web)
            .iter()
            .any(|v| v == "postgres://app:pw-in-env@db/app")
    );
}

#[test]
fn a_tampered_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_key();
    std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
    encrypt(
        dir.path(),
        "secret.yaml",
        &key.recipient,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    let path = dir.path().join("secret.yaml");
    let enc = std::fs::read_to_string(&path).unwrap();
    // An unencrypted value changed: only the MAC can tell.
    std::fs::write(&path, enc.replace("tier: backend", "tier: frontend")).unwrap();
    let err = render_path(&path, keys(&key.identity)).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.kind, ProblemKind::Decrypt);
    assert!(p.file.ends_with("secret.yaml"), "{p:?}");
    assert!(p.message.contains("MAC mismatch"), "{}", p.message);

    // An encrypted value moved to another key fails its own authentication.
    let swapped = enc.replace("    password: ENC", "    passwd: ENC");
    std::fs::write(&path, swapped).unwrap();
    let err = render_path(&path, keys(&key.identity)).unwrap_err();
    assert!(
        err.problems[0]
            .message
            .contains("cannot decrypt `stringData.passwd`"),
        "{}",
        err.problems[0].message
    );
    // The problem points at the value's line.
    let line = enc
        .lines()
        .position(|l| l.contains("password: ENC"))
        .unwrap() as u32
        + 1;
    assert_eq!(err.problems[0].line, line);
}

#[test]
fn without_the_key_the_error_names_the_file_and_the_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_key();
    std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
    encrypt(dir.path(), "secret.yaml", &key.recipient, &[]);
    let path = dir.path().join("secret.yaml");

    let err = render_path(&path, SopsKeys::default()).unwrap_err();
    assert!(err.problems[0].file.ends_with("secret.yaml"));
    let m = &err.problems[0].message;
    assert!(m.contains(&key.recipient), "{m}");
    assert!(m.contains("SOPS_AGE_KEY"), "{m}");

    let other = age_key();
    let err = render_path(&path, keys(&other.identity)).unwrap_err();
    let m = &err.problems[0].message;
    assert!(
        m.contains(&key.recipient) && m.contains("not for these recipients"),
        "{m}"
    );
    assert!(!m.contains("correct-horse"));
}

#[test]
fn kustomize_reads_encrypted_resources_patches_and_generator_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = age_key();
    std::fs::write(
        d.join("kustomization.yaml"),
        "resources:\n- secret.yaml\n- deploy.yaml\npatches:\n- path: patch.yaml\n\
         secretGenerator:\n- name: app-config\n  files:\n  - config.yaml\n",
    )
    .unwrap();
    std::fs::write(d.join("secret.yaml"), SECRET).unwrap();
    std::fs::write(
        d.join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    \
         matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      \
         containers:\n      - name: app\n        image: nginx:1.27\n",
    )
    .unwrap();
    std::fs::write(
        d.join("patch.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      \
         containers:\n      - name: app\n        env:\n        - name: API_TOKEN\n          value: patched-token-42\n",
    )
    .unwrap();
    std::fs::write(
        d.join("config.yaml"),
        "endpoint: https://api.example\napiKey: gen-key-99\n",
    )
    .unwrap();
    encrypt(
        d,
        "secret.yaml",
        &key.recipient,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    encrypt(
        d,
        "patch.yaml",
        &key.recipient,
        &["--encrypted-regex", "^value$"],
    );
    encrypt(d, "config.yaml", &key.recipient, &[]);

    let r = render_path(d, keys(&key.identity)).unwrap();
    let find = |kind: &str| {
        r.manifests
            .iter()
            .find(|m| m.object["kind"] == kind && m.object["metadata"]["name"] != "db")
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let web = &find("Deployment").object;
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
        "patched-token-42"
    );
    let db = r
        .manifests
        .iter()
        .find(|m| m.object["metadata"]["name"] == "db")
        .unwrap();
    assert_eq!(db.object["stringData"]["password"], "correct-horse-battery");
    let generated = &find("Secret").object;
    use base64::Engine as _;
    let config = base64::engine::general_purpose::STANDARD
        .decode(
            generated["data"]["config.yaml"]
                .as_str()
                .unwrap()
                .replace('\n', ""),
        )
        .unwrap();
    let config = String::from_utf8(config).unwrap();
    assert!(config.contains("apiKey: \"gen-key-99\""), "{config}");
    assert!(
        !config.contains("ENC[") && !config.contains("sops"),
        "{config}"
    );
    for s in ["patched-token-42", "correct-horse-battery", "gen-key-99"] {
        assert!(r.secrets.iter().any(|v| v == s), "{s} not listed");
    }
}

#[test]
fn a_kustomize_file_without_its_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = age_key();
    std::fs::write(d.join("kustomization.yaml"), "resources:\n- secret.yaml\n").unwrap();
    std::fs::write(d.join("secret.yaml"), SECRET).unwrap();
    encrypt(d, "secret.yaml", &key.recipient, &[]);
    let err = render_path(d, SopsKeys::default()).unwrap_err();
    let p = err
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::Decrypt)
        .expect("a decrypt problem");
    assert!(p.file.ends_with("secret.yaml"), "{p:?}");
    assert!(p.message.contains(&key.recipient), "{}", p.message);
}

#[test]
fn rules_and_plain_values_hash_as_sops_hashes_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = age_key();
    let doc = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  \
               enabled: yes\n  on: true\n  count: 0x10\n  big: 1_000\n  when: 2024-01-02\n  \
               ratio: 1.50\n  nothing: ~\n  items: [a, 2, 3.5]\n  token_unencrypted: visible\n  \
               token: hidden-value\n";
    std::fs::write(d.join("suffix.yaml"), doc).unwrap();
    encrypt(
        d,
        "suffix.yaml",
        &key.recipient,
        &["--unencrypted-suffix", "_unencrypted"],
    );
    std::fs::write(d.join("regex.yaml"), doc.replace("name: w", "name: w2")).unwrap();
    // mac_only_encrypted is set by a creation rule of .sops.yaml (sops has no flag for it).
    std::fs::write(
        d.join(".sops.yaml"),
        format!(
            "creation_rules:\n- path_regex: regex\\.yaml$\n  encrypted_regex: ^token$\n  \
             mac_only_encrypted: true\n  age: {}\n",
            key.recipient
        ),
    )
    .unwrap();
    let out = Command::new(sops())
        .current_dir(d)
        .args([
            "--disable-version-check",
            "encrypt",
            "--in-place",
            "regex.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let regex = std::fs::read_to_string(d.join("regex.yaml")).unwrap();
    assert!(regex.contains("mac_only_encrypted: true"), "{regex}");
    let r = render_path(d, keys(&key.identity)).unwrap();
    assert_eq!(r.manifests.len(), 2);
    for m in &r.manifests {
        let spec = &m.object["spec"];
        assert_eq!(spec["token"], "hidden-value", "{}", m.origin);
        assert_eq!(spec["token_unencrypted"], "visible");
        assert_eq!(spec["count"], 16);
        assert_eq!(spec["ratio"], 1.5);
        assert_eq!(spec["items"][1], 2);
    }
    // With --mac-only-encrypted, an unencrypted value may change; with the default MAC it may not.
    assert!(regex.contains("ratio: 1.5"), "{regex}");
    std::fs::write(
        d.join("regex.yaml"),
        regex.replace("ratio: 1.5", "ratio: 2.5"),
    )
    .unwrap();
    let suffix = std::fs::read_to_string(d.join("suffix.yaml")).unwrap();
    assert!(suffix.contains("token_unencrypted: visible"));
    std::fs::write(
        d.join("suffix.yaml"),
        suffix.replace("token_unencrypted: visible", "token_unencrypted: changed"),
    )
    .unwrap();
    let err = render_path(d, keys(&key.identity)).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{:?}", err.problems);
    assert!(err.problems[0].file.ends_with("suffix.yaml"));
    assert!(err.problems[0].message.contains("MAC mismatch"));
}

mod key_vault {
    //! Azure Key Vault keys: the real sops encrypts through the emulator's Key Vault (signing in
    //! with the emulator's App Service managed identity, trusting its CA through SSL_CERT_FILE),
    //! and kpush decrypts through it with the pipeline's token.

    use super::*;
    use kpush::render::sops::{KeyVaultClient, TokenSource};
    use kpush_azure_emulator::{
        App, Config, Emulator, KeyVaultConfig, ManagedIdentityConfig, Principal, Tenant, VaultKey,
    };
    use std::sync::Arc;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const MI_CLIENT: &str = "44444444-4444-4444-8444-444444444444";
    const MI_OID: &str = "aaaaaaaa-0000-4000-8000-000000000004";
    const OTHER_CLIENT: &str = "55555555-5555-4555-8555-555555555555";
    const OTHER_OID: &str = "aaaaaaaa-0000-4000-8000-000000000005";
    const MI_HEADER: &str = "mi-header-value";

    fn emulator() -> Emulator {
        let config = Config {
            tenants: vec![Tenant {
                id: TENANT.into(),
                apps: vec![
                    App {
                        client_id: MI_CLIENT.into(),
                        ..App::default()
                    },
                    App {
                        client_id: OTHER_CLIENT.into(),
                        ..App::default()
                    },
                ],
                principals: vec![
                    Principal::service(MI_OID, MI_CLIENT, &[]),
                    Principal::service(OTHER_OID, OTHER_CLIENT, &[]),
                ],
            }],
            managed_identity: Some(ManagedIdentityConfig {
                identity_header: MI_HEADER.into(),
                tenant: TENANT.into(),
                system_assigned_client_id: MI_CLIENT.into(),
                user_assigned_client_ids: vec![],
            }),
            key_vault: Some(KeyVaultConfig {
                tenant: TENANT.into(),
                keys: vec![VaultKey {
                    name: "sops-key".into(),
                    // As sops's documentation creates it: `--ops encrypt decrypt`.
                    ops: vec!["encrypt".into(), "decrypt".into()],
                }],
                crypto_users: vec![MI_OID.into()],
            }),
            ..Config::default()
        };
        let e = Emulator::start(config).expect("emulator starts");
        let challenge = e.key_vault_challenge_resource();
        e.configure(|c| {
            c.resources.push(challenge);
            c.resources.push(Emulator::KEY_VAULT_RESOURCE.into());
        });
        e
    }

    /// Encrypts `dir/name` in place with the real sops for the emulator's key `key_id`.
    fn encrypt_azkv(e: &Emulator, dir: &Path, name: &str, key_id: &str) {
        let out = Command::new(sops())
            .current_dir(dir)
            .args(["--disable-version-check", "encrypt", "--azure-kv", key_id])
            .args([
                "--encrypted-regex",
                "^(data|stringData)$",
                "--in-place",
                name,
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("SSL_CERT_FILE", e.ca_file())
            .env("IDENTITY_ENDPOINT", e.managed_identity_endpoint())
            .env("IDENTITY_HEADER", MI_HEADER)
            .output()
            .expect("run sops");
        assert!(
            out.status.success(),
            "sops encrypt --azure-kv failed: {}\nemulator requests: {:?}",
            String::from_utf8_lossy(&out.stderr),
            e.requests()
        );
    }

    fn vault_keys(e: &Arc<Emulator>, oid: &'static str, trust_emulator: bool) -> SopsKeys {
        let e2 = e.clone();
        let token: TokenSource = Arc::new(move || {
            e2.mint_access_token(TENANT, oid, "https://vault.azure.net", 3600)
                .map_err(|err| err.to_string())
        });
        let host = e.url().trim_start_matches("https://").to_string();
        SopsKeys {
            key_vault: Some(Arc::new(KeyVaultClient {
                token,
                ca_pem: Some(e.ca_pem().as_bytes().to_vec()),
                extra_hosts: if trust_emulator { vec![host] } else { vec![] },
            })),
            ..SopsKeys::default()
        }
    }

    #[test]
    fn a_file_encrypted_by_sops_with_a_key_vault_key_decrypts_through_key_vault() {
        let e = Arc::new(emulator());
        let key_id = e.key_vault_key_id("sops-key");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
        encrypt_azkv(&e, dir.path(), "secret.yaml", &key_id);
        let enc = std::fs::read_to_string(dir.path().join("secret.yaml")).unwrap();
        assert!(enc.contains("azure_kv:") && enc.contains(&e.url()), "{enc}");
        assert!(!enc.contains("correct-horse"));
        // sops asked Key Vault to encrypt, after the challenge round trip.
        let reqs = e.requests();
        assert!(
            reqs.iter()
                .any(|r| r.path.ends_with("/encrypt") && r.status == 401)
                && reqs
                    .iter()
                    .any(|r| r.path.ends_with("/encrypt") && r.status == 200),
            "{reqs:?}"
        );

        // The real sops decrypts it through the emulator too: the emulator is Key Vault to it.
        let out = Command::new(sops())
            .current_dir(dir.path())
            .args(["--disable-version-check", "decrypt", "secret.yaml"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("SSL_CERT_FILE", e.ca_file())
            .env("IDENTITY_ENDPOINT", e.managed_identity_endpoint())
            .env("IDENTITY_HEADER", MI_HEADER)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("password: correct-horse-battery"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let path = dir.path().join("secret.yaml");
        let r = render_path(&path, vault_keys(&e, MI_OID, true)).unwrap();
        assert_eq!(
            r.manifests[0].object["stringData"]["password"],
            "correct-horse-battery"
        );
        assert!(
            e.requests()
                .iter()
                .any(|r| r.path.ends_with("/decrypt") && r.status == 200)
        );

        // Without the role: Key Vault's 403, named with the key and the role to grant.
        let err = render_path(&path, vault_keys(&e, OTHER_OID, true)).unwrap_err();
        assert!(err.problems[0].file.ends_with("secret.yaml"));
        let m = &err.problems[0].message;
        assert!(m.contains(&key_id), "{m}");
        assert!(
            m.contains("403") && m.contains("Key Vault Crypto User"),
            "{m}"
        );

        // Without any key: the error names the Key Vault key.
        let err = render_path(&path, SopsKeys::default()).unwrap_err();
        let m = &err.problems[0].message;
        assert!(m.contains(&format!("Azure Key Vault key {key_id}")), "{m}");
        assert!(m.contains("Azure sign-in"), "{m}");
    }

    #[test]
    fn the_token_goes_only_to_key_vault_domains() {
        let e = Arc::new(emulator());
        let key_id = e.key_vault_key_id("sops-key");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
        encrypt_azkv(&e, dir.path(), "secret.yaml", &key_id);
        e.clear_requests();
        // The vault URL comes from the file, that is from the repository: a host that is not a
        // Key Vault gets no token.
        let err = render_path(
            &dir.path().join("secret.yaml"),
            vault_keys(&e, MI_OID, false),
        )
        .unwrap_err();
        let m = &err.problems[0].message;
        assert!(m.contains("not an Azure Key Vault URL"), "{m}");
        assert!(e.requests().is_empty(), "{:?}", e.requests());
    }

    /// The CLI renders inside its tokio runtime and gets tokens from an async credential: the
    /// token source may block on that runtime, since it runs on a thread of its own.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_async_token_source_works_from_inside_a_runtime() {
        let e = Arc::new(emulator());
        let key_id = e.key_vault_key_id("sops-key");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.yaml"), SECRET).unwrap();
        encrypt_azkv(&e, dir.path(), "secret.yaml", &key_id);
        let handle = tokio::runtime::Handle::current();
        let e2 = e.clone();
        let token: TokenSource = Arc::new(move || {
            let e3 = e2.clone();
            handle.block_on(async move {
                tokio::task::yield_now().await;
                e3.mint_access_token(TENANT, MI_OID, "https://vault.azure.net", 3600)
                    .map_err(|err| err.to_string())
            })
        });
        let keys = SopsKeys {
            key_vault: Some(Arc::new(KeyVaultClient {
                token,
                ca_pem: Some(e.ca_pem().as_bytes().to_vec()),
                extra_hosts: vec![e.url().trim_start_matches("https://").to_string()],
            })),
            ..SopsKeys::default()
        };
        let r = render_path(&dir.path().join("secret.yaml"), keys).unwrap();
        assert_eq!(
            r.manifests[0].object["stringData"]["password"],
            "correct-horse-battery"
        );
    }
}

#[test]
fn a_generator_reads_an_encrypted_dotenv_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = age_key();
    std::fs::write(
        d.join("kustomization.yaml"),
        "secretGenerator:\n- name: app-env\n  envs:\n  - app.env\n",
    )
    .unwrap();
    std::fs::write(
        d.join("app.env"),
        "DB_USER=app\nDB_PASSWORD=env-secret-77\n",
    )
    .unwrap();
    encrypt(d, "app.env", &key.recipient, &[]);
    let enc = std::fs::read_to_string(d.join("app.env")).unwrap();
    assert!(
        enc.contains("DB_PASSWORD=ENC[") && enc.contains("sops_mac="),
        "{enc}"
    );

    let r = render_path(d, keys(&key.identity)).unwrap();
    let s = &r.manifests[0].object;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let field =
        |k: &str| String::from_utf8(b64.decode(s["data"][k].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(field("DB_PASSWORD"), "env-secret-77");
    assert_eq!(field("DB_USER"), "app");
    assert_eq!(s["data"].as_object().unwrap().len(), 2, "{s}");
    assert!(r.secrets.iter().any(|v| v == "env-secret-77"));

    // Tampered: a value swapped between keys.
    let swapped = enc
        .lines()
        .map(|l| l.replacen("DB_USER=", "DB_X=", 1))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.join("app.env"), swapped).unwrap();
    let err = render_path(d, keys(&key.identity)).unwrap_err();
    // A generator's file is named in the generator's error, at its kustomization line.
    assert!(
        err.problems
            .iter()
            .any(|p| p.message.contains("app.env:1: cannot decrypt `DB_X`")),
        "{:?}",
        err.problems
    );
}

/// Damaged encrypted files (bytes changed, lines dropped or repeated, truncation) end in objects
/// or in errors naming the file, never in a panic, and never in a value that did not verify.
#[test]
fn damaged_encrypted_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_key();
    std::fs::write(dir.path().join("s.yaml"), SECRET).unwrap();
    encrypt(
        dir.path(),
        "s.yaml",
        &key.recipient,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    std::fs::write(dir.path().join("c.json"), r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"json-value-1"}}"#).unwrap();
    encrypt(dir.path(), "c.json", &key.recipient, &[]);
    let ids = keys(&key.identity);
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n.max(1)
    };
    for name in ["s.yaml", "c.json"] {
        let original = std::fs::read_to_string(dir.path().join(name)).unwrap();
        for case in 0..150 {
            let mut bytes = original.clone().into_bytes();
            let lines: Vec<&str> = original.lines().collect();
            let damaged = match case % 4 {
                0 => {
                    let i = next(bytes.len());
                    bytes[i] = b" :,[]{}\"'#-0aZ=\n"[next(16)];
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                1 => {
                    let i = next(lines.len());
                    lines
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, l)| *l)
                        .collect::<Vec<_>>()
                        .join("\n")
                }
                2 => {
                    let i = next(lines.len());
                    let mut l = lines.clone();
                    l.insert(i, lines[next(lines.len())]);
                    l.join("\n")
                }
                _ => original
                    .chars()
                    .take(next(original.chars().count()))
                    .collect(),
            };
            let path = dir.path().join(format!("damaged-{name}"));
            std::fs::write(&path, &damaged).unwrap();
            match render_path(&path, ids.clone()) {
                Ok(r) => {
                    // Whatever renders from a damaged file was decrypted and verified: no
                    // ciphertext, no sops block.
                    for m in &r.manifests {
                        let text = m.object.to_string();
                        assert!(
                            m.object.get("sops").is_none() && !text.contains("ENC[AES256_GCM"),
                            "{damaged}\n=> {text}"
                        );
                    }
                }
                Err(e) => assert!(
                    e.problems.iter().all(|p| !p.file.is_empty()),
                    "{:?}",
                    e.problems
                ),
            }
        }
    }
}
