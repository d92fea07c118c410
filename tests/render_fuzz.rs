//! The renderer never panics, whatever bytes it is fed: random input and truncated fixtures.

use std::io::Cursor;
use std::path::PathBuf;

use kpush::render::{self, RenderOptions};
use proptest::prelude::*;

fn render_stdin(bytes: &[u8]) {
    let mut vars = render::Vars::new();
    vars.set("TAG", "1").unwrap();
    let opts = RenderOptions {
        paths: vec![PathBuf::from("-")],
        vars,
        images: vec![render::ImageOverride::parse("nginx=nginx:2").unwrap()],
        namespace: Some("ns".into()),
        labels: vec![("a".into(), "b".into())],
        ..Default::default()
    };
    // Ok or Err are both fine; a panic fails the test.
    let _ = render::render(&opts, &mut Cursor::new(bytes.to_vec()));
}

fn fixture_texts() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        "examples/guestbook/web.yaml",
        "examples/guestbook/redis.yaml",
        "tests/fixtures/render/mixed/input/apps/list.json",
        "tests/fixtures/render/mixed/input/apps/b/jobs.yml",
        "tests/fixtures/render/errors/input/a.yaml",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(root.join(p)).unwrap())
    .collect()
}

#[test]
fn every_truncation_of_the_fixtures_renders_or_errors_without_panic() {
    for text in fixture_texts() {
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            render_stdin(&bytes[..cut]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        render_stdin(&bytes);
    }

    #[test]
    fn yaml_like_noise_never_panics(s in "([-:{}\\[\\]&*!|>'\"#$ \n\ta-z0-9]|---\n|\\$\\{[A-Z]{0,3}(:-[a-z]*)?\\}|apiVersion: v1\n|kind: List\n|items:\n){0,80}") {
        render_stdin(s.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(idx in 0usize..5, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let texts = fixture_texts();
        let mut b = texts[idx % texts.len()].clone().into_bytes();
        let i = pos.index(b.len());
        b[i] = byte;
        render_stdin(&b);
    }
}

/// Variable substitution and `.env` files, fed arbitrary text: never a panic, every output line
/// maps back to an input line, and text without `$` passes through unchanged.
mod vars {
    use super::*;

    fn vars() -> render::Vars {
        let mut v = render::Vars::new();
        v.set("TAG", "1.2.3").unwrap();
        v.set("MULTI", "a\nb\nc").unwrap();
        v.set("EMPTY", "").unwrap();
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("KPUSH_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
            .. ProptestConfig::default()
        })]

        #[test]
        fn substitution_never_panics_and_maps_every_line(s in "([$\\\\{}:\\-=?a-zA-Z_0-9 \n]|\\$\\{(TAG|MULTI|EMPTY|NOPE)(:-[a-z$\\{]*)?\\}|\\$\\$|\\$[A-Z]{1,4}){0,60}") {
            let (out, _undefined) = vars().substitute_all(&s);
            let input_lines = s.split_inclusive('\n').count().max(1) as u32;
            for l in &out.line_map {
                prop_assert!(*l >= 1 && *l <= input_lines, "line {} of {}", l, input_lines);
            }
        }

        #[test]
        fn text_without_dollar_passes_through(s in "[^$]{0,200}") {
            let (out, undefined) = vars().substitute_all(&s);
            prop_assert!(undefined.is_empty());
            prop_assert_eq!(out.text, s);
        }

        #[test]
        fn dotenv_text_never_panics(s in "([A-Za-z_0-9=#'\" \\\\\tn]|\n|export ){0,120}") {
            let mut v = render::Vars::new();
            let _ = v.load_dotenv_text(&s, "fuzz.env");
        }
    }
}
