//! Tests `socklab lab` on the examples: every example in examples/ runs
//! (shortened) and its report holds what the experiment is about; the same
//! seed gives the same fates. Captures are tested in `lab_capture.rs`,
//! files written by the tests (bad ones included) in `lab_files.rs`.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::Value;

#[test]
fn lab_baseline_answers_everything() {
    let (done, report, out) = lab_run(&example("baseline.toml"), &["--count", "10"]);
    done.assert_code(0);
    assert_all_answered(&done, &report, "udp");
    assert_all_answered(&done, &report, "tcp");
    assert_eq!(report["lessons"].as_array().unwrap().len(), 2, "{done}");
    // The chart and the report are written beside each other.
    let svg = std::fs::read_to_string(out.path().join("rtt.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("RTT over time"),
        "{svg}"
    );
    let written: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(written["fates"], report["fates"]);
    // Off a terminal there is no progress bar, only one line saying what
    // is under way.
    assert!(
        done.stderr
            .starts_with("lab: 2 links, 20 messages in all, 1 round;"),
        "{done}"
    );
    assert!(
        !done.stderr.contains('\r') && !done.stderr.contains("=>"),
        "{done}"
    );
    // Every guest's and the file's SHA-256 are in the report.
    assert_eq!(report["experiment"]["sha256"].as_str().unwrap().len(), 64);
    for guest in report["servers"].as_array().unwrap() {
        assert_eq!(guest["sha256"].as_str().unwrap().len(), 64, "{guest}");
    }
}

#[test]
fn lab_udp_loses_what_the_relay_drops_and_tcp_answers_later() {
    let (done, report, out) = lab_run(&example("tcp-vs-udp-loss.toml"), &["--count", "20"]);
    done.assert_code(0);
    let udp = figures(&report, "udp");
    assert!(n(&udp["lost"]) > 0, "{udp:#}");
    assert_eq!(udp["lost"], udp["relay"]["dropped"], "{udp:#}\n{done}");
    assert_eq!(n(&udp["answered"]) + n(&udp["lost"]), 20, "{udp:#}");
    let tcp = figures(&report, "tcp");
    assert_all_answered(&done, &report, "tcp");
    assert!(n(&tcp["relay"]["retransmitted"]) > 0, "{tcp:#}");
    // Later: at least one message waited out a 200 ms retransmission timeout.
    assert!(tcp["rtt_max_us"].as_f64().unwrap() >= 200_000.0, "{tcp:#}");
    let lessons: Vec<&str> = report["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lessons[0].starts_with("UDP: ") && lessons[0].contains("replies lost"),
        "{lessons:?}"
    );
    assert!(
        lessons[1].starts_with("TCP: 20 of 20 answered"),
        "{lessons:?}"
    );
    // The chart shows the lost replies at UDP's timeout, on a log axis
    // (UDP's sub-millisecond answers beside that timeout and TCP's
    // retransmissions), under a caption with the impairment and the lesson.
    let svg = std::fs::read_to_string(out.path().join("rtt.svg")).unwrap();
    let lost = format!("{} lost", n(&udp["lost"]));
    let lesson = lessons[0].replace('\'', "&apos;");
    for said in [
        "lost (no reply)",
        "UDP timeout",
        "RTT (log scale)",
        "udp-client→udp-server both: loss 30% (timeout 100ms)",
        lost.as_str(),
        lesson.as_str(),
    ] {
        assert!(svg.contains(said), "no {said:?} in {svg}");
    }
}

/// What decides a run's fates, without its timings.
fn fate_keys(report: &Value) -> Vec<String> {
    report["fates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {} dup={} reord={}",
                f["client"], f["index"], f["fate"], f["duplicated"], f["reordered"]
            )
        })
        .collect()
}

#[test]
fn lab_same_seed_gives_the_same_fates() {
    let file = example("tcp-vs-udp-loss.toml");
    let args = ["--count", "15", "--seed", "21"];
    let (first, a, _o1) = lab_run(&file, &args);
    let (second, b, _o2) = lab_run(&file, &args);
    first.assert_code(0);
    second.assert_code(0);
    assert_eq!(fate_keys(&a), fate_keys(&b), "{first}\n{second}");
    assert_eq!(a["experiment"]["seed"], 21);
    // The relay's own decisions repeat too.
    let dropped = |r: &Value| figures(r, "udp")["relay"]["dropped"].clone();
    assert_eq!(dropped(&a), dropped(&b));
    // Another seed, other fates.
    let (third, c, _o3) = lab_run(&file, &["--count", "15", "--seed", "22"]);
    third.assert_code(0);
    assert_ne!(fate_keys(&a), fate_keys(&c), "{third}");
}

#[test]
fn lab_latency_and_jitter_delay_every_reply() {
    let (done, report, _out) = lab_run(&example("latency-jitter.toml"), &["--count", "8"]);
    done.assert_code(0);
    for transport in ["udp", "tcp"] {
        assert_all_answered(&done, &report, transport);
        // 20 ms each way is the least any round trip can take.
        let p50 = figures(&report, transport)["rtt_p50_us"].as_f64().unwrap();
        assert!(p50 >= 40_000.0, "{transport} p50 {p50} µs\n{done}");
    }
}

#[test]
fn lab_many_clients_share_one_server() {
    let (done, report, _out) = lab_run(&example("many-clients.toml"), &["--count", "3"]);
    done.assert_code(0);
    assert_all_answered(&done, &report, "tcp");
    assert_eq!(n(&figures(&report, "tcp")["messages"]), 25 * 3);
    assert_eq!(n(&figures(&report, "udp")["messages"]), 25 * 3);
    let clients = report["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 50);
    // Each client instance had its own relay, and so its own link name.
    let links: HashSet<&str> = clients
        .iter()
        .map(|c| c["link"].as_str().unwrap())
        .collect();
    assert_eq!(links.len(), 50);
    let tcp_server = report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["world"] == "tcp-server")
        .unwrap();
    assert_eq!(tcp_server["served"]["sessions"], 25, "{tcp_server:#}");
}

#[test]
fn lab_udp_reorders_and_duplicates_tcp_keeps_order() {
    let (done, report, _out) = lab_run(&example("reorder-duplicate.toml"), &["--count", "30"]);
    done.assert_code(0);
    let udp = figures(&report, "udp");
    assert!(n(&udp["relay"]["reordered"]) > 0, "{udp:#}");
    assert!(n(&udp["relay"]["duplicated"]) > 0, "{udp:#}");
    // The client saw it: a reply came twice, or after a later one, or late.
    assert!(
        n(&udp["duplicated"]) + n(&udp["reordered"]) + n(&udp["late"]) > 0,
        "{udp:#}"
    );
    let tcp = figures(&report, "tcp");
    assert_all_answered(&done, &report, "tcp");
    assert_eq!(n(&tcp["reordered"]), 0, "{tcp:#}");
}

#[test]
fn lab_tcp_faults_reset_the_connection() {
    let (done, report, _out) = lab_run(&example("tcp-faults.toml"), &[]);
    done.assert_code(0);
    let tcp = figures(&report, "tcp");
    assert!(n(&tcp["relay"]["resets"]) >= 1, "{tcp:#}\n{done}");
    // 6 KiB go through before the reset: 47 messages of 129 bytes, and
    // every message after the reset goes unanswered.
    let answered = n(&tcp["answered"]);
    assert!((1..60).contains(&answered), "{tcp:#}");
    let fates = report["fates"].as_array().unwrap();
    let first_unanswered = fates.iter().position(|f| f["fate"] != "answered").unwrap();
    assert!(
        fates[first_unanswered..]
            .iter()
            .all(|f| f["fate"] != "answered"),
        "an answer after the reset: {fates:#?}"
    );
    let stats = &report["clients"][0]["relay_stats"];
    assert!(n(&stats["to_client"]["stalls"]) >= 1, "{stats:#}");
}
