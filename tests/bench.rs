//! `socklab bench`: every row is there with figures that hang together (no
//! timing assertions: speed goals live in the bench itself, not in tests),
//! the JSON parses, and a bad flag is bad input.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// Every row `socklab bench` prints, in order (the `sim` group's
/// `sim-speed:NAME` rows, one per example found at run time, come last).
const ROWS: [&str; 28] = [
    "tcp-rtt-p50",
    "tcp-rtt-p99",
    "wasi03-tcp-rtt-p50",
    "wasi03-tcp-rtt-p99",
    "guest-client-rtt-p50",
    "guest-client-rtt-p99",
    "tcp-bulk",
    "wasi03-tcp-bulk",
    "udp-pingpong-64",
    "udp-pingpong-1400",
    "udp-64",
    "udp-1400",
    "wasi03-udp-pingpong-64",
    "wasi03-udp-pingpong-1400",
    "wasi03-udp-64",
    "wasi03-udp-1400",
    "tcp-connect",
    "concurrent-rtt-p50",
    "concurrent-rtt-p99",
    "start-cold",
    "start-warm",
    "instantiate",
    "memory-per-guest",
    "wasmtime-run",
    "sim-events",
    "sim-thousand-wall",
    "sim-thousand-rss",
    "sim-thousand-events",
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
    // Pinned by default, and socklab's own UDP sockets.
    assert!(bench["pinned_cpu"].as_u64().is_some(), "{out}");
    assert_eq!(bench["udp_sockets"], "socklab", "{out}");
    let rows = bench["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    let (fixed, speeds) = names.split_at(ROWS.len().min(names.len()));
    assert_eq!(fixed, ROWS, "{out}");
    assert!(speeds.iter().all(|n| n.starts_with("sim-speed:")), "{out}");
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
        let unstable = row["unstable"].as_bool().unwrap();
        assert_eq!(
            row["met"].is_null(),
            target == "-" || unstable,
            "{name}: met is set exactly when there is a target and the rounds agree: {row}"
        );
        if let Some(spread) = number(row, "rounds_spread") {
            assert!(spread >= 1.0, "{name}: {row}");
            assert_eq!(unstable, spread > 1.25, "{name}: {row}");
        }
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
    assert!(out.stdout.contains(", every thread on CPU "), "{out}");
}

#[test]
fn bench_no_pin_runs_unpinned_and_says_so() {
    let out = socklab(&["bench", "--quick", "--only", "start", "--no-pin"])
        .finish_within(Duration::from_secs(120));
    out.assert_code(0);
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(header.ends_with(", unpinned (--no-pin)"), "{out}");
}

/// wasmtime-wasi's UDP, for comparison: the same UDP rows, measured, and
/// the header and the JSON say whose sockets they were.
#[test]
fn bench_udp_sockets_wasmtime_wasi_measures_its_udp_and_says_so() {
    let args = ["bench", "--quick", "--only", "udp", "--udp-sockets"];
    let out =
        socklab(&[&args[..], &["wasmtime-wasi"]].concat()).finish_within(Duration::from_secs(300));
    out.assert_code(0);
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(
        header.contains("UDP on wasmtime-wasi's (--udp-sockets wasmtime-wasi) sockets"),
        "{out}"
    );
    let out = socklab(&[&args[..], &["wasmtime-wasi", "--json"]].concat())
        .finish_within(Duration::from_secs(300));
    out.assert_code(0);
    let bench: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{out}"));
    assert_eq!(bench["udp_sockets"], "wasmtime-wasi", "{out}");
    let udp = bench["rows"].as_array().expect("rows");
    assert!(udp.iter().any(|r| r["name"] == "udp-pingpong-64"), "{out}");
    for row in udp {
        assert!(
            number(row, "socklab").is_some_and(|v| v > 0.0),
            "{row}\n{out}"
        );
    }
}

#[test]
fn bench_only_sim_has_a_row_per_simulated_example() {
    let out = socklab(&["bench", "--quick", "--only", "sim", "--json"])
        .finish_within(Duration::from_secs(300));
    out.assert_code(0);
    let bench: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}\n{out}"));
    let rows = bench["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sim");
    let mut examples: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| format!("sim-speed:{}", p.file_stem().unwrap().to_string_lossy()))
        .collect();
    examples.sort();
    let mut expected = vec![
        "sim-events",
        "sim-thousand-wall",
        "sim-thousand-rss",
        "sim-thousand-events",
    ];
    expected.extend(examples.iter().map(String::as_str));
    assert_eq!(names, expected, "{out}");
    for row in rows {
        let figure = row["socklab"].as_f64();
        assert!(figure.is_some_and(|v| v > 0.0 && v.is_finite()), "{row}");
    }
    let target = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap()["target"].clone();
    assert_eq!(target("sim-events"), ">= 1000000 events/s");
    assert_eq!(target("sim-thousand-wall"), "<= 10.0 s");
}
