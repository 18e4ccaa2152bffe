//! Tests the test suite itself: every file in `tests/` is a test target of
//! the host's package, so a new one runs without anyone remembering to list
//! it (the targets live outside `host/`, where cargo does not look for
//! them by itself).

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_file_in_tests_is_a_test_target() {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(host.join("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().expect("host/Cargo.toml is TOML");
    let listed: BTreeSet<String> = manifest["test"]
        .as_array()
        .expect("[[test]] targets")
        .iter()
        .map(|t| t["path"].as_str().expect("a test's path").to_string())
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(host.join("../tests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".rs"))
        .map(|name| format!("../tests/{name}"))
        .collect();
    let missing: Vec<_> = files.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "tests/ files no [[test]] in host/Cargo.toml runs: {missing:?}; add a [[test]] for each"
    );
    let gone: Vec<_> = listed.difference(&files).collect();
    assert!(
        gone.is_empty(),
        "[[test]] targets whose file is gone: {gone:?}"
    );
}
