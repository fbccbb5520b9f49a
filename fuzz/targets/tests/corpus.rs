//! Replays every committed corpus input (`fuzz/corpus/<target>/*`) through its target,
//! so seeds and crash reproducers are regression tests of the ordinary `cargo test`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use switchyard_fuzz_targets::TARGETS;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

#[test]
fn every_corpus_input_passes_its_target() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, target) in TARGETS {
        let dir = corpus_dir().join(name);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            // libFuzzer's own files (`.state` and the like) are not inputs.
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        assert!(!entries.is_empty(), "no seed inputs for {name}");
        for path in entries {
            let data = std::fs::read(&path).expect("a readable corpus file");
            replayed += 1;
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "inputs that fail their target: {failures:#?}"
    );
    assert!(replayed >= TARGETS.len());
}

#[test]
fn every_target_has_a_fuzz_binary_and_a_corpus() {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, _) in TARGETS {
        let bin = fuzz.join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(
            text.contains(&format!("{name}::{name}(")),
            "{} does not call its target",
            bin.display()
        );
        assert!(corpus_dir().join(name).is_dir(), "no corpus for {name}");
    }
}
