//! The kustomization reader never panics and always points at a file: kustomize's own test
//! kustomizations (tests/fixtures/kustomize/krusty), mutated byte by byte and line by line, and
//! kustomization-shaped noise, rendered from a directory as `kpush render DIR` does.
//!
//! Bounded for CI (`KPUSH_FUZZ_CASES`, default 300 per property); a finding becomes a case in
//! `regressions` below.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use kpush::render::{self, RenderOptions};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("KPUSH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The krusty cases: directories holding a `kustomization.yaml` and their resource files.
fn seeds() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kustomize/krusty");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .expect("krusty fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("kustomization.yaml").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() > 100, "krusty seeds found: {}", dirs.len());
    dirs
}

/// Copies a case (its files and sub-directories, without the expected output) into `to`.
fn copy_case(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).expect("case dir").flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "expected.yaml" || name == "SOURCE" {
            continue;
        }
        let target = to.join(&name);
        if path.is_dir() {
            fs::create_dir_all(&target).expect("mkdir");
            copy_case(&path, &target);
        } else {
            fs::copy(&path, &target).expect("copy");
        }
    }
}

/// Renders `dir` like `kpush render DIR`; a panic fails the property. An error must name a
/// file of the case (or the arguments) for every problem it reports.
fn render_dir(dir: &Path) -> Result<(), String> {
    let opts = RenderOptions {
        paths: vec![dir.to_path_buf()],
        ..Default::default()
    };
    match render::render(&opts, &mut Cursor::new(Vec::new())) {
        Ok(_) => Ok(()),
        Err(e) => {
            for p in &e.problems {
                if p.file.is_empty() {
                    return Err(format!("a problem names no file: {}", p.message));
                }
                if p.message.trim().is_empty() {
                    return Err(format!("a problem at {}:{} says nothing", p.file, p.line));
                }
            }
            Ok(())
        }
    }
}

/// One way to damage a kustomization's text.
#[derive(Debug, Clone)]
enum Mutation {
    Byte {
        at: prop::sample::Index,
        byte: u8,
    },
    DropLine(prop::sample::Index),
    DuplicateLine(prop::sample::Index),
    Truncate(prop::sample::Index),
    InsertLine {
        at: prop::sample::Index,
        line: String,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let line = prop_oneof![
        Just("resources:".to_string()),
        Just("- ../".to_string()),
        Just("- /etc/passwd".to_string()),
        Just("- https://github.com/org/repo//base?ref=v1".to_string()),
        Just("patches:".to_string()),
        Just("- path: missing.yaml".to_string()),
        Just("  target: {kind: Deployment}".to_string()),
        Just("namePrefix: [".to_string()),
        Just("images: {name: x}".to_string()),
        Just("replacements:\n- source: {kind: ConfigMap}".to_string()),
        Just("configMapGenerator:\n- name: c\n  literals: [a]".to_string()),
        Just("components: [.]".to_string()),
        Just("&a [*a]".to_string()),
        "[ -~]{0,40}",
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>())
            .prop_map(|(at, byte)| Mutation::Byte { at, byte }),
        any::<prop::sample::Index>().prop_map(Mutation::DropLine),
        any::<prop::sample::Index>().prop_map(Mutation::DuplicateLine),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), line)
            .prop_map(|(at, line)| Mutation::InsertLine { at, line }),
    ]
}

fn apply(text: &str, m: &Mutation) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match m {
        Mutation::Byte { at, byte } => {
            let mut b = text.as_bytes().to_vec();
            if !b.is_empty() {
                let i = at.index(b.len());
                b[i] = *byte;
            }
            return b;
        }
        Mutation::Truncate(at) => {
            let b = text.as_bytes();
            return b[..at.index(b.len() + 1)].to_vec();
        }
        Mutation::DropLine(at) if !lines.is_empty() => {
            let i = at.index(lines.len());
            lines.remove(i);
        }
        Mutation::DuplicateLine(at) if !lines.is_empty() => {
            let i = at.index(lines.len());
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        Mutation::InsertLine { at, line } => {
            let i = at.index(lines.len() + 1);
            lines.insert(i, line.clone());
        }
        _ => {}
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    /// One to three mutations of one krusty kustomization.
    #[test]
    fn mutated_krusty_kustomizations_never_panic(
        seed in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let seeds = seeds();
        let case = &seeds[seed.index(seeds.len())];
        let dir = tempfile::tempdir().expect("tempdir");
        copy_case(case, dir.path());
        let file = dir.path().join("kustomization.yaml");
        let mut text = String::from_utf8_lossy(&fs::read(&file).expect("read")).into_owned();
        for m in &muts {
            text = String::from_utf8_lossy(&apply(&text, m)).into_owned();
        }
        fs::write(&file, text.as_bytes()).expect("write");
        prop_assert_eq!(render_dir(dir.path()), Ok(()), "case {}", case.display());
    }

    /// Kustomization-shaped noise: known fields with values of the wrong shape.
    #[test]
    fn kustomization_noise_never_panics(
        s in "((resources|patches|components|namePrefix|nameSuffix|namespace|images|replicas|labels|commonLabels|commonAnnotations|configMapGenerator|secretGenerator|replacements|patchesStrategicMerge|patchesJson6902|generatorOptions|vars|openapi|crds|sortOptions|apiVersion|kind): ([-:{}\\[\\],&*!|>'\"# a-z0-9./]|\n- |\n  ){0,12}\n){0,10}"
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("kustomization.yaml"), s.as_bytes()).expect("write");
        fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {k: v}\n",
        )
        .expect("write");
        prop_assert_eq!(render_dir(dir.path()), Ok(()));
    }
}

/// Findings of the properties above, kept as fixed cases.
mod regressions {
    use super::*;

    fn render_text(kustomization: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("kustomization.yaml"), kustomization).expect("write");
        fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {k: v}\n",
        )
        .expect("write");
        render_dir(dir.path())
    }

    #[test]
    fn self_referencing_and_shapeless_kustomizations_are_errors_not_panics() {
        for text in [
            "resources: [.]\n",
            "components: [.]\n",
            "resources:\n- a.yaml\n- a.yaml\n",
            "namePrefix: [\n",
            "&a [*a]\n",
            "images: {name: x}\n",
            "replacements:\n- source: {kind: ConfigMap}\n",
            "patches:\n- path: missing.yaml\n  target: {kind: Deployment}\n",
            "configMapGenerator:\n- name: c\n  literals: [a]\n",
            "resources:\n- a.yaml\nreplicas:\n- {}\n",
            "",
            "\u{feff}resources: [a.yaml]\n",
        ] {
            assert_eq!(render_text(text), Ok(()), "{text:?}");
        }
    }
}
