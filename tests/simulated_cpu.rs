//! Tests the simulated CPU: a guest's fuel is charged to its node's
//! simulated clock, so a spinning guest moves simulated time forward
//! (instead of freezing it) while the other nodes' timers fire on
//! schedule; `--cpu-limit` counts simulated CPU time; each guest's fuel,
//! CPU time and peak memory are in the report; `--wall-limit` is a
//! real-time watchdog on both networks. Every simulated run is made
//! inside `unshare -n` where the machine allows it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// A spinner with a 2 s CPU limit beside a UDP client whose every reply is
/// lost, so that each of its 10 messages waits out its 100 ms timeout.
const SPINNER_BESIDE_TIMEOUTS: &str = r#"
name = "a spinner beside a client's timeouts"
network = "simulated"
seed = 3

[messages]
count = 10
size = 32

[nodes.echo]
guest = "udp-echo-server"

[nodes.patient]
guest = "udp-client"
timeout = "100ms"

[nodes.tcp-echo]
guest = "tcp-echo-server"

[nodes.spin]
guest = "hostile-spin"
cpu_limit = "2s"

[[links]]
from = "@patient"
to = "@echo"
to_client = { loss = "100%" }

[[links]]
from = "@spin"
to = "@tcp-echo"
"#;

/// The seconds of simulated time the stderr line
/// `simulated network (seed N): X s of simulated time in Y s of real time`
/// gives.
fn simulated_seconds(done: &Finished) -> f64 {
    let line = done
        .stderr
        .lines()
        .find(|l| l.starts_with("simulated network (seed"))
        .unwrap_or_else(|| panic!("no simulated-time line:\n{done}"));
    let after = &line[line.find("): ").unwrap() + 3..];
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn simulated_cpu_a_spinner_moves_time_while_a_udp_client_s_timeouts_fire_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spin.toml");
    std::fs::write(&file, SPINNER_BESIDE_TIMEOUTS).unwrap();
    let (out, events) = (dir.path().join("out"), dir.path().join("events.jsonl"));
    let args = [
        "--json",
        "lab",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--wall-limit",
        "5s",
    ];
    let done = socklab_offline(&args).finish_within(Duration::from_secs(60));
    // The spinner is stopped by its CPU limit (exit 3), not by the
    // real-time watchdog.
    done.assert_code(3);
    assert!(!done.stderr.contains("--wall-limit"), "{done}");
    let report = done.json();

    let spin = &client(&report, "spin")["guest"];
    let error = spin["error"].as_str().unwrap_or_default();
    assert!(error.contains("--cpu-limit 2s"), "{spin:#}\n{done}");
    let cpu = n(&spin["usage"]["cpu_micros"]);
    assert!(
        (1_990_000..=2_001_000).contains(&cpu),
        "the spinner's simulated CPU time at its 2 s limit: {cpu} us\n{spin:#}"
    );
    // Its CPU was busy from its start to its limit, so simulated time
    // reached 2 s: without the simulated CPU it would have stood still
    // while the spinner ran, and the run would end at the client's 1 s.
    let simulated = simulated_seconds(&done);
    assert!(
        (2.0..2.1).contains(&simulated),
        "the run's simulated time: {simulated} s\n{done}"
    );

    // The client's timeouts fired on schedule while the spinner spun: its
    // k-th message went out k x 100 ms in (plus its own little CPU time).
    let log = std::fs::read_to_string(&events).unwrap();
    let sends: Vec<u64> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "send" && e["node"].as_str().unwrap().starts_with("patient"))
        .map(|e| n(&e["at_micros"]))
        .collect();
    assert_eq!(sends.len(), 10, "the client's sends: {sends:?}\n{done}");
    for (k, at) in sends.iter().enumerate() {
        let due = k as u64 * 100_000;
        assert!(
            (due..due + 5_000).contains(at),
            "message {k} was sent at {at} us, due at {due} us: {sends:?}"
        );
    }
    let patient = client(&report, "patient");
    let usage = &patient["guest"]["usage"];
    assert!(
        n(&usage["fuel"]) > 0 && n(&usage["host_calls"]) > 0,
        "{usage}"
    );
    assert!(n(&usage["peak_memory"]) >= 65536, "{usage}");
    eprintln!(
        "spinner: {cpu} us of CPU, run: {simulated} s simulated in {:?} real; client sends at {sends:?} us; client used {usage}",
        done.took
    );
}

/// One ping over UDP on the simulated network.
const UDP_EXCHANGE: [&str; 9] = [
    "--network",
    "simulated",
    "exchange",
    "--server",
    "udp-echo-server",
    "--client",
    "udp-client",
    "--message",
    "ping",
];

#[test]
fn simulated_cpu_exchange_reports_each_guest_s_fuel_cpu_time_and_peak_memory() {
    let exchange = |json: &[&'static str]| {
        let mut args = json.to_vec();
        args.extend(UDP_EXCHANGE);
        socklab_offline(&args).finish()
    };
    let done = exchange(&[]);
    done.assert_code(0);
    let used: Vec<&str> = done
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("used: cpu "))
        .collect();
    assert_eq!(used.len(), 2, "a used line per guest:\n{done}");
    for line in used {
        assert!(
            line.contains(" fuel, ") && line.contains("host calls), peak memory "),
            "{line}"
        );
    }
    let json = exchange(&["--json"]);
    json.assert_code(0);
    let report = json.json();
    for side in ["server", "client"] {
        let usage = &report["runs"][0][side]["usage"];
        assert!(
            n(&usage["fuel"]) > 0 && n(&usage["cpu_micros"]) > 0,
            "{side}: {usage}\n{json}"
        );
    }
    // And nothing of it on the real network, whose CPU is real.
    let mut real_args = vec!["--json"];
    real_args.extend(&UDP_EXCHANGE[2..]);
    let real = socklab(&real_args).finish();
    real.assert_code(0);
    let client = &real.json()["runs"][0]["client"];
    assert!(
        client["sha256"].is_string() && client.get("usage").is_none(),
        "{real}"
    );
}

/// `socklab [--network simulated] exchange` of a spinning client with a CPU
/// limit far away, under `--wall-limit 1s`.
fn spin_under_wall_limit(simulated: bool) -> Finished {
    let mut args = vec![];
    if simulated {
        args.extend(["--network", "simulated"]);
    }
    args.extend([
        "--wall-limit",
        "1s",
        "exchange",
        "--server",
        "tcp-echo-server",
        "--client",
        "hostile-spin",
        "--cpu-limit",
        "10m",
    ]);
    if simulated {
        socklab_offline(&args).finish()
    } else {
        socklab(&args).finish()
    }
}

#[test]
fn wall_limit_stops_a_spinning_guest_in_real_time_on_both_networks() {
    for simulated in [false, true] {
        let done = spin_under_wall_limit(simulated);
        done.assert_code(3);
        assert!(
            done.stderr
                .contains("error: --wall-limit 1s reached: the command ran for 1s of real time"),
            "{done}"
        );
        // It stopped the guests and reported: a report, not a forced exit.
        assert!(!done.stderr.contains("forced stop"), "{done}");
        assert!(done.stdout.contains("client "), "{done}");
        assert!(done.took < Duration::from_secs(10), "{done}");
    }
}
