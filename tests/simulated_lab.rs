//! Tests `socklab lab --network simulated`: the lab's UDP fates equal to
//! the real relays', TCP answering every message under the same loss, a
//! relay's own knob refused; report.json and the event log repeat byte for byte,
//! under load too; timeouts cost simulated time, not real time; the
//! examples under examples/sim/ run and repeat; `--pcap` captures the
//! report's messages in simulated time, byte for byte again;
//! `--check-determinism` says two runs agree and writes each file once.
//! Every simulated run is made inside `unshare -n` where the machine
//! allows it.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use common::*;
use serde_json::Value;

/// `socklab lab FILE --network simulated --out DIR [--events FILE]`,
/// offline: the process, report.json and the events' text.
fn lab_simulated(file: &Path, out: &Path, events: Option<&Path>) -> (Finished, String, String) {
    let (file, out_arg) = (file.display().to_string(), out.display().to_string());
    let events_arg = events.map(|e| e.display().to_string());
    let mut args = vec!["--network", "simulated", "lab", &file, "--out", &out_arg];
    if let Some(e) = &events_arg {
        args.extend(["--events", e]);
    }
    let done = socklab_offline(&args).finish();
    let report = std::fs::read_to_string(out.join("report.json")).unwrap_or_default();
    let log = events.map_or(String::new(), |e| {
        std::fs::read_to_string(e).unwrap_or_default()
    });
    (done, report, log)
}

/// Two processes that keep both CPUs busy while they live (stopped when
/// dropped, and by `timeout` after 60 s in any case). Each is `timeout`
/// over a shell loop; dropping sends `timeout` a SIGTERM, which it passes
/// on to the loop (a SIGKILL would leave the loop running with no timer).
struct Busy(Vec<std::process::Child>);

impl Busy {
    fn start() -> Busy {
        Busy(
            (0..2)
                .map(|_| {
                    std::process::Command::new("timeout")
                        .args(["60", "sh", "-c", "while :; do :; done"])
                        .spawn()
                        .expect("starting a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let term = std::process::Command::new("kill")
                .arg(child.id().to_string())
                .status();
            if !term.is_ok_and(|s| s.success()) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

#[test]
fn simulated_lab_report_and_events_repeat_byte_for_byte_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let (out, events) = (dir.path().join("out"), dir.path().join("events.jsonl"));
    let file = example("reorder-duplicate.toml");
    let (first, report, log) = lab_simulated(&file, &out, Some(&events));
    first.assert_code(0);
    let busy = Busy::start();
    let (second, again, log_again) = lab_simulated(&file, &out, Some(&events));
    drop(busy);
    second.assert_code(0);
    assert!(!report.is_empty() && !log.is_empty(), "{first}");
    assert!(
        report == again,
        "report.json differs between two runs of one seed:\n{first}\n{second}"
    );
    assert!(
        log == log_again,
        "the event log differs between two runs of one seed"
    );
    let timing: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timing.json")).unwrap()).unwrap();
    eprintln!("reorder-duplicate: {timing}");
    assert!(timing["wall_ms"].as_f64().is_some(), "{timing}");
    // The log is enough to redraw the exchange: binds, sends, receives, and
    // drops with their cause, in simulated microseconds.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for kind in ["bind", "send", "receive"] {
        assert!(lines.iter().any(|l| l["kind"] == kind), "no {kind} event");
    }
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["at_micros"].as_u64() <= w[1]["at_micros"].as_u64())
    );
}

/// The messages of `transport` that a lab report says were lost, as
/// `(client, instance, index)`.
fn lost(report: &Value, transport_clients: &[&str]) -> Vec<(String, u64, u64)> {
    report["fates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fate"] == "lost")
        .filter(|f| transport_clients.contains(&f["client"].as_str().unwrap_or("")))
        .map(|f| {
            let s = |k: &str| f[k].as_u64().unwrap();
            (
                f["client"].as_str().unwrap().to_string(),
                s("instance"),
                s("index"),
            )
        })
        .collect()
}

#[test]
fn simulated_lab_loses_what_the_real_relays_lose_and_tcp_retransmits() {
    // The links draw as the relays draw, from the same seed and link names:
    // the same datagrams are lost on both networks. The simulated twin
    // differs only in its TCP link, which has no relay `rto` there: TCP
    // retransmits for real and answers every message.
    let (file, twin) = (
        example("tcp-vs-udp-loss.toml"),
        example("sim/tcp-vs-udp-loss.toml"),
    );
    let (real, real_report, _out) = lab_run(&file, &["--count", "20"]);
    real.assert_code(0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (twin_arg, out_arg) = (twin.display().to_string(), out.display().to_string());
    let sim = socklab_offline(&["lab", &twin_arg, "--out", &out_arg, "--count", "20"]).finish();
    sim.assert_code(0);
    let sim_report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let udp_clients = ["udp-client"];
    let on_real = lost(&real_report, &udp_clients);
    assert!(!on_real.is_empty(), "30% loss loses something: {real}");
    assert_eq!(lost(&sim_report, &udp_clients), on_real, "{sim}");
    let tcp = ["tcp-client"];
    assert_eq!(lost(&sim_report, &tcp), vec![], "TCP loses nothing: {sim}");
    let answered = sim_report["fates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["client"] == "tcp-client" && f["fate"] == "answered")
        .count();
    assert_eq!(answered, 20, "TCP answers every message: {sim}");
}

#[test]
fn simulated_lab_refuses_a_relay_knob_naming_it() {
    // The real example's TCP link sets the relay's `rto`, which means
    // nothing where TCP's own RTO applies.
    let file = example("tcp-vs-udp-loss.toml").display().to_string();
    let out = socklab_offline(&["--network", "simulated", "lab", &file]).finish();
    assert_one_error_line(&out, 2, &["`rto`", "simulated network", "examples/sim/"]);
}

#[test]
fn simulated_timeouts_cost_simulated_time_not_real_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("silent.toml");
    std::fs::write(
        &file,
        "network = \"simulated\"\n[messages]\ncount = 3\n[nodes.s]\nguest = \"udp-echo-server\"\n\
         [nodes.c]\nguest = \"udp-client\"\ntimeout = \"10s\"\n\
         [[links]]\nfrom = \"@c\"\nto = \"@s\"\nto_server = { loss = \"100%\" }\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (done, report, log) = lab_simulated(&file, &out, Some(&dir.path().join("e.jsonl")));
    done.assert_code(0);
    let report: Value = serde_json::from_str(&report).unwrap();
    let fates = report["fates"].as_array().unwrap();
    assert_eq!(fates.len(), 3, "{done}");
    assert!(fates.iter().all(|f| f["fate"] == "lost"), "{done}");
    let elapsed = report["experiment"]["elapsed_ms"].as_f64().unwrap();
    assert!(
        elapsed >= 30_000.0,
        "three 10 s timeouts of simulated time: {elapsed} ms"
    );
    let timing = std::fs::read_to_string(out.join("timing.json")).unwrap();
    eprintln!("three 10 s timeouts: {timing}");
    assert!(
        log.lines()
            .filter(|l| l.contains("\"cause\":\"loss\""))
            .count()
            == 3,
        "each loss is in the event log with its cause:\n{log}"
    );
}

#[test]
fn simulated_examples_run_and_repeat() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sim");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "examples/sim/ has examples");
    for file in files {
        let out = tempfile::tempdir().unwrap();
        let (first, report, _) = lab_simulated(&file, out.path(), None);
        first.assert_code(0);
        let (_, again, _) = lab_simulated(&file, out.path(), None);
        assert!(
            !report.is_empty() && report == again,
            "{}: {first}",
            file.display()
        );
        let timing = std::fs::read_to_string(out.path().join("timing.json")).unwrap();
        eprintln!("{}: {}", file.display(), timing.replace('\n', " "));
    }
}

/// `socklab lab examples/sim/udp-loss.toml --network simulated --out
/// DIR/NAME --pcap DIR/NAME.pcap`: its report, the capture's bytes and path.
fn udp_loss_captured(dir: &Path, name: &str) -> (Value, Vec<u8>, std::path::PathBuf) {
    let file = example_sim("udp-loss.toml");
    let (out, pcap) = (dir.join(name), dir.join(format!("{name}.pcap")));
    let (file, out_arg, pcap_arg) = (
        file.display().to_string(),
        out.display().to_string(),
        pcap.display().to_string(),
    );
    let args = [
        "--network",
        "simulated",
        "lab",
        &file,
        "--out",
        &out_arg,
        "--pcap",
        &pcap_arg,
    ];
    let done = socklab_offline(&args).finish();
    done.assert_code(0);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    (report, std::fs::read(&pcap).unwrap(), pcap)
}

#[test]
fn simulated_lab_pcap_holds_the_reports_messages_and_repeats_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let capture = |name: &str| udp_loss_captured(dir.path(), name);
    let (report, bytes, pcap) = capture("one");
    let (again, bytes_again, _) = capture("two");
    assert!(
        bytes.len() > 24 && bytes == bytes_again,
        "one seed, two captures"
    );
    assert_eq!(report["fates"], again["fates"]);
    let records = udp_records(&pcap);
    assert_eq!(report["captured"].as_u64(), Some(records.len() as u64));
    // Each message the clients sent is one datagram to its server (this
    // file duplicates nothing), its sequence number and size as reported.
    let servers: Vec<SocketAddr> = report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["server_addr"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut sent = BTreeMap::<u64, usize>::new();
    for (_, _, dst, payload) in records.iter().filter(|r| servers.contains(&r.2)) {
        assert_eq!(payload.len(), 64, "to {dst}");
        *sent.entry(seq(payload)).or_default() += 1;
    }
    let mut reported = BTreeMap::<u64, usize>::new();
    for fate in report["fates"].as_array().unwrap() {
        *reported.entry(fate["seq"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(
        sent, reported,
        "the capture's requests are the report's messages"
    );
    // Each echo carries back a message that was sent; at least one per
    // answered message.
    let payloads: Vec<&Vec<u8>> = records
        .iter()
        .filter(|r| servers.contains(&r.2))
        .map(|r| &r.3)
        .collect();
    let echoes: Vec<_> = records.iter().filter(|r| servers.contains(&r.1)).collect();
    assert!(echoes.iter().all(|e| payloads.contains(&&e.3)));
    let answered = report["fates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["fate"] == "answered")
        .count();
    assert!(
        answered > 0 && echoes.len() >= answered,
        "{answered} answered"
    );
    assert!(
        records.windows(2).all(|w| w[0].0 <= w[1].0),
        "in time order"
    );
}

#[test]
fn simulated_lab_check_determinism_says_identical_and_writes_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_sim("udp-loss.toml").display().to_string();
    let run = |name: &str, check: bool| {
        let out = dir.path().join(name);
        let (pcap, events) = (out.join("capture.pcap"), out.join("events.jsonl"));
        std::fs::create_dir_all(&out).unwrap();
        let (out_arg, pcap_arg, events_arg) = (
            out.display().to_string(),
            pcap.display().to_string(),
            events.display().to_string(),
        );
        let mut args = vec![
            "--network",
            "simulated",
            "lab",
            &file,
            "--out",
            &out_arg,
            "--pcap",
            &pcap_arg,
            "--events",
            &events_arg,
        ];
        if check {
            args.push("--check-determinism");
        }
        let done = socklab_offline(&args).finish();
        let read = |p: &Path| std::fs::read(p).unwrap_or_default();
        let files = [read(&out.join("report.json")), read(&pcap), read(&events)];
        (done, files)
    };
    let (plain, plain_files) = run("plain", false);
    plain.assert_code(0);
    let (checked, checked_files) = run("checked", true);
    checked.assert_code(0);
    let verdict: Vec<&str> = checked
        .stderr
        .lines()
        .filter(|l| l.contains("deterministic"))
        .collect();
    assert_eq!(verdict.len(), 1, "{checked}");
    assert!(
        verdict[0].starts_with("deterministic: two runs of seed 7 agree on all "),
        "{checked}"
    );
    let events = plain_files[2].iter().filter(|&&b| b == b'\n').count();
    assert!(
        verdict[0].contains(&format!("all {events} events")),
        "{checked}"
    );
    // The files are the first run's, as a plain run writes them (the
    // report names its own paths, so compare it without them).
    assert!(!checked_files[1].is_empty() && checked_files[1] == plain_files[1]);
    assert!(checked_files[2] == plain_files[2]);
    let fates = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap()["fates"].clone();
    assert_eq!(fates(&checked_files[0]), fates(&plain_files[0]));
    // Its summary is printed once.
    assert_eq!(checked.stdout.matches("report: ").count(), 1, "{checked}");
}

#[test]
fn simulated_lab_check_determinism_is_refused_on_the_real_network() {
    let file = example("baseline.toml").display().to_string();
    bad_input(
        &["lab", &file, "--check-determinism"],
        &["--check-determinism", "--network simulated"],
    );
}
