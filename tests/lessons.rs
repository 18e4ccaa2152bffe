//! What a learner reads in a lab report: fates that count a duplicate or a
//! held-back reply as what it is, and lesson lines that say the same thing
//! every run (their figures may differ; their words must not).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// `socklab --json lab FILE ARGS...` into a scratch directory: its JSON.
fn lab_json(file: &Path, args: &[&str]) -> Value {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let file_arg = file.display().to_string();
    let mut all = vec!["--json", "lab", &file_arg, "--out", &out_arg];
    all.extend_from_slice(args);
    let done = socklab(&all).finish_within(WAIT * 2);
    done.assert_code(0);
    done.json()
}

fn udp_figures(report: &Value) -> &Value {
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["transport"] == "udp")
        .unwrap_or_else(|| panic!("no UDP figures: {report:#}"))
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn lessons_a_duplicated_reply_is_duplicated_not_late() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dup.toml");
    std::fs::write(
        &file,
        "seed = 3\n[messages]\ncount = 40\n[nodes.s]\nguest = \"udp-echo-server\"\n\
         [nodes.c]\nguest = \"udp-client\"\ntimeout = \"1s\"\n\
         [[links]]\nfrom = \"@c\"\nto = \"@s\"\nto_client = { duplicate = \"50%\" }\n",
    )
    .unwrap();
    let report = lab_json(&file, &[]);
    let f = udp_figures(&report);
    let relay_dups = count(&report["clients"][0]["relay_stats"]["to_client"]["duplicated"]);
    assert!(relay_dups > 0, "{report:#}");
    // The client matches replies by number: every message is answered, and
    // each one whose reply the relay doubled is flagged, none is late.
    assert_eq!(count(&f["answered"]), 40, "{f:#}");
    assert_eq!(count(&f["late"]), 0, "{f:#}");
    // The second copy of the last reply may reach the client's socket after
    // it has finished; every earlier one arrives while it waits for the next.
    let seen = count(&f["duplicated"]);
    assert!(
        seen == relay_dups || seen + 1 == relay_dups,
        "{seen} duplicated replies seen, {relay_dups} doubled by the relay: {f:#}"
    );
}

#[test]
fn lessons_a_held_back_request_makes_only_its_own_reply_late() {
    // Requests held back past the client's 40 ms timeout: each such reply
    // comes late, and the replies after it are still answered.
    let report = lab_json(&example("reorder-duplicate.toml"), &[]);
    let f = udp_figures(&report);
    let udp_client = report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["transport"] == "udp")
        .unwrap();
    let held = count(&udp_client["relay_stats"]["to_server"]["reordered"]);
    let (late, lost) = (count(&f["late"]), count(&f["lost"]));
    assert!(held > 0, "{report:#}");
    // A held-back reply is late, or lost if it was still on its way when the
    // client finished; nothing else is either.
    assert!(
        late + lost <= held,
        "late {late} + lost {lost} > held back {held}: {f:#}"
    );
    assert_eq!(
        count(&f["answered"]) + late + lost,
        count(&f["messages"]),
        "{f:#}"
    );
}

/// A lesson line with its figures (RTTs in ms, ratios) masked: what must
/// stay the same from run to run.
fn words_of(lesson: &str) -> String {
    let chars: Vec<char> = lesson.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let rest: String = chars[i..].iter().collect();
            if rest.starts_with(" ms") || rest.starts_with('×') {
                out.push('N');
            } else {
                out.extend(&chars[start..i]);
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[test]
fn lessons_every_example_says_the_same_in_every_run() {
    // Shortened where the full run takes long; three runs each.
    let examples: [(&str, &[&str]); 6] = [
        ("baseline.toml", &[]),
        ("tcp-vs-udp-loss.toml", &["--count", "15"]),
        ("latency-jitter.toml", &["--count", "15"]),
        ("many-clients.toml", &["--count", "6"]),
        ("reorder-duplicate.toml", &[]),
        ("tcp-faults.toml", &[]),
    ];
    let mut differ = Vec::new();
    for (name, args) in examples {
        let runs: Vec<Vec<String>> = (0..3)
            .map(|_| {
                let report = lab_json(&example(name), args);
                report["lessons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string())
                    .collect()
            })
            .collect();
        let words: Vec<Vec<String>> = runs
            .iter()
            .map(|r| r.iter().map(|l| words_of(l)).collect())
            .collect();
        if words.iter().any(|w| *w != words[0]) {
            differ.push(format!("{name}:\n{runs:#?}"));
        }
    }
    assert!(
        differ.is_empty(),
        "lessons changed between runs:\n{}",
        differ.join("\n")
    );
}

#[test]
fn lessons_mask_only_figures() {
    assert_eq!(
        words_of("TCP: 40 of 40 answered, p99 RTT 9173× higher than UDP's (6202 ms); 29 segments"),
        "TCP: 40 of 40 answered, p99 RTT N× higher than UDP's (N ms); 29 segments"
    );
}
