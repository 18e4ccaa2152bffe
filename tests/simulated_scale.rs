//! Tests the simulated network at scale: the 1,000-client example's file,
//! with fewer instances so that a test stays short (the same file, the same
//! code path; the full 1,000 run is `socklab bench --only sim`'s
//! `sim-thousand-*` rows, and `simulated_examples_run_and_repeat` in
//! simulated_lab.rs runs it whole twice), answers every message of every
//! client and repeats under `--check-determinism`. No timing assertion.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// examples/sim/thousand-clients.toml with `instances = n` for both nodes.
fn thousand_clients_with(n: u32, dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(example_sim("thousand-clients.toml")).unwrap();
    assert_eq!(text.matches("instances = 1000").count(), 2, "{text}");
    let file = dir.join("scaled.toml");
    std::fs::write(
        &file,
        text.replace("instances = 1000", &format!("instances = {n}")),
    )
    .unwrap();
    file
}

#[test]
fn simulated_many_clients_are_all_answered_and_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let n = 200;
    let file = thousand_clients_with(n, dir.path());
    let out = dir.path().join("out");
    let (file_arg, out_arg) = (file.display().to_string(), out.display().to_string());
    let done = socklab_offline(&["lab", &file_arg, "--out", &out_arg, "--check-determinism"])
        .finish_within(Duration::from_secs(300));
    done.assert_code(0);
    assert!(
        done.stderr
            .lines()
            .any(|l| l.starts_with("deterministic: two runs of seed 15 agree")),
        "{done}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let fates = report["fates"].as_array().expect("fates");
    // 10 messages from each of n UDP and n TCP clients.
    assert_eq!(fates.len(), 2 * 10 * n as usize, "{done}");
    let unanswered: Vec<&Value> = fates.iter().filter(|f| f["fate"] != "answered").collect();
    assert!(
        unanswered.is_empty(),
        "every message is answered: {unanswered:?}"
    );
    let clients: BTreeSet<(String, u64)> = fates
        .iter()
        .map(|f| {
            (
                f["client"].as_str().unwrap().to_owned(),
                f["instance"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        clients.len(),
        2 * n as usize,
        "every instance of both nodes ran"
    );
}
