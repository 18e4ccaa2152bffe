//! `socklab bench`: every row is there with figures that hang together (no
//! timing assertions: speed goals live in the bench itself, not in tests),
//! the JSON parses, and a bad flag is bad input.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// Every row `socklab bench` prints, in order.
const ROWS: [&str; 15] = [
    "tcp-rtt-p50",
    "tcp-rtt-p99",
    "guest-client-rtt-p50",
    "guest-client-rtt-p99",
    "tcp-bulk",
    "udp-64",
    "udp-1400",
    "tcp-connect",
    "concurrent-rtt-p50",
    "concurrent-rtt-p99",
    "start-cold",
    "start-warm",
    "instantiate",
    "memory-per-guest",
    "wasmtime-run",
];

fn number(row: &Value, key: &str) -> Option<f64> {
    row[key].as_f64()
}

#[test]
fn bench_quick_json_has_every_row_with_sane_figures() {
    let out = socklab(&["bench", "--quick", "--json"]).finish_within(Duration::from_secs(300));
    out.assert_code(0);
    let bench: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{out}"));
    let rows = bench["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ROWS, "{out}");
    for row in rows {
        let name = row["name"].as_str().unwrap();
        let Some(socklab) = number(row, "socklab") else {
            // Only a row that says why may lack its figure.
            let note = row["note"].as_str().unwrap_or_default();
            assert!(
                note.starts_with("not measured: "),
                "{name} has no figure and no reason: {row}"
            );
            assert!(row["met"].is_null(), "{row}");
            continue;
        };
        assert!(socklab > 0.0 && socklab.is_finite(), "{name}: {row}");
        match (number(row, "baseline"), number(row, "ratio")) {
            (Some(baseline), Some(ratio)) => {
                assert!(baseline > 0.0 && baseline.is_finite(), "{name}: {row}");
                let expected = socklab / baseline;
                assert!(
                    (ratio - expected).abs() <= 1e-9 * expected,
                    "{name}: ratio is not socklab / baseline: {row}"
                );
            }
            (None, None) => {}
            _ => panic!("{name}: a ratio needs a baseline and the other way round: {row}"),
        }
        let target = row["target"].as_str().unwrap();
        assert_eq!(
            row["met"].is_null(),
            target == "-",
            "{name}: met is set exactly when there is a target: {row}"
        );
    }
}

#[test]
fn bench_unknown_group_is_bad_input() {
    bad_input(&["bench", "--only", "nonsense"], &["nonsense"]);
}

#[test]
fn bench_only_prints_the_groups_asked_for() {
    let out = socklab(&["bench", "--quick", "--only", "start,memory"])
        .finish_within(Duration::from_secs(120));
    out.assert_code(0);
    for row in [
        "start-cold",
        "start-warm",
        "instantiate",
        "memory-per-guest",
    ] {
        assert!(out.stdout.contains(row), "{row} missing: {out}");
    }
    assert!(!out.stdout.contains("tcp-rtt"), "{out}");
}
