//! Tests `socklab lab`: every example in examples/ runs (shortened) and its
//! report holds what the experiment is about; the same seed gives the same
//! fates; the capture parses and its TCP payload reassembles to the bytes
//! exchanged; bad files get one line naming the line and the field; the
//! audit names both legs of every link.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// The examples shipped with socklab.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// `socklab --json lab FILE --out DIR ARGS...`: the finished process, its
/// JSON document, and the output directory.
fn lab(file: &Path, args: &[&str]) -> (Finished, Value, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let file_arg = file.display().to_string();
    let mut all = vec!["--json", "lab", &file_arg, "--out", &out_arg];
    all.extend_from_slice(args);
    let done = socklab(&all).finish();
    let json = done.json();
    (done, json, out)
}

/// The figures of `transport` (`"udp"` or `"tcp"`).
fn figures<'a>(report: &'a Value, transport: &str) -> &'a Value {
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["transport"] == transport)
        .unwrap_or_else(|| panic!("no {transport} figures in {report:#}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn assert_all_answered(done: &Finished, report: &Value, transport: &str) {
    let f = figures(report, transport);
    assert!(n(&f["messages"]) > 0, "{done}");
    assert_eq!(f["answered"], f["messages"], "{transport}: {f:#}\n{done}");
}

#[test]
fn lab_baseline_answers_everything() {
    let (done, report, out) = lab(&example("baseline.toml"), &["--count", "10"]);
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
    let (done, report, out) = lab(&example("tcp-vs-udp-loss.toml"), &["--count", "20"]);
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
    let (first, a, _o1) = lab(&file, &args);
    let (second, b, _o2) = lab(&file, &args);
    first.assert_code(0);
    second.assert_code(0);
    assert_eq!(fate_keys(&a), fate_keys(&b), "{first}\n{second}");
    assert_eq!(a["experiment"]["seed"], 21);
    // The relay's own decisions repeat too.
    let dropped = |r: &Value| figures(r, "udp")["relay"]["dropped"].clone();
    assert_eq!(dropped(&a), dropped(&b));
    // Another seed, other fates.
    let (third, c, _o3) = lab(&file, &["--count", "15", "--seed", "22"]);
    third.assert_code(0);
    assert_ne!(fate_keys(&a), fate_keys(&c), "{third}");
}

#[test]
fn lab_latency_and_jitter_delay_every_reply() {
    let (done, report, _out) = lab(&example("latency-jitter.toml"), &["--count", "8"]);
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
    let (done, report, _out) = lab(&example("many-clients.toml"), &["--count", "3"]);
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
    let (done, report, _out) = lab(&example("reorder-duplicate.toml"), &["--count", "30"]);
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
    let (done, report, _out) = lab(&example("tcp-faults.toml"), &[]);
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

/// Reassemble each direction of each TCP conversation in a capture:
/// (source, destination) → payload bytes in sequence order.
fn tcp_streams(pcap: &Path) -> BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> {
    let file = std::fs::File::open(pcap).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut segments: BTreeMap<(SocketAddr, SocketAddr), BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        let sliced = etherparse::SlicedPacket::from_ip(&packet.data).unwrap();
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match sliced.net.unwrap() {
            etherparse::NetSlice::Ipv4(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            etherparse::NetSlice::Ipv6(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            _ => panic!("not IP"),
        };
        if let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport {
            if tcp.payload().is_empty() {
                continue;
            }
            let key = (
                SocketAddr::new(src_ip, tcp.source_port()),
                SocketAddr::new(dst_ip, tcp.destination_port()),
            );
            segments
                .entry(key)
                .or_default()
                .insert(tcp.sequence_number(), tcp.payload().to_vec());
        }
    }
    segments
        .into_iter()
        .map(|(key, by_seq)| {
            let mut stream = Vec::new();
            let mut next = None;
            for (seq, payload) in by_seq {
                if let Some(next) = next {
                    assert_eq!(seq, next, "a gap or overlap in {key:?}");
                }
                next = Some(seq.wrapping_add(payload.len() as u32));
                stream.extend(payload);
            }
            (key, stream)
        })
        .collect()
}

#[test]
fn lab_pcap_reassembles_to_the_bytes_exchanged() {
    let pcap_dir = tempfile::tempdir().unwrap();
    let pcap = pcap_dir.path().join("loss.pcap");
    let pcap_arg = pcap.display().to_string();
    let (done, report, _out) = lab(
        &example("tcp-vs-udp-loss.toml"),
        &["--count", "10", "--pcap", &pcap_arg],
    );
    done.assert_code(0);
    assert!(n(&report["captured"]) > 0, "{done}");
    let listening = |world: &str| -> SocketAddr {
        let server = report["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["world"] == world)
            .unwrap();
        server["listening"].as_str().unwrap().parse().unwrap()
    };
    let tcp_server = listening("tcp-server");
    let leg = |transport: &str| -> Value {
        report["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["transport"] == transport)
            .unwrap()["relay_stats"]["legs"][0]
            .clone()
    };
    let tcp_client: SocketAddr = leg("tcp")["client"].as_str().unwrap().parse().unwrap();
    // What the tcp-client sent: each generated message and its newline; the
    // echo server sent the same back.
    let mut sent = Vec::new();
    for message in socklab::experiment::messages::generate(10, 64).unwrap() {
        sent.extend(message);
        sent.push(b'\n');
    }
    let streams = tcp_streams(&pcap);
    // The capture shows the client's real address and the server's listen
    // address, as if the relay were not there.
    assert_eq!(
        streams.get(&(tcp_client, tcp_server)),
        Some(&sent),
        "{streams:?}"
    );
    assert_eq!(streams.get(&(tcp_server, tcp_client)), Some(&sent));
    // And tshark, when it is here (CI installs it), follows the same stream.
    match tshark_follow(&pcap) {
        Some((to_server, to_client)) => {
            assert_eq!(to_server, sent, "tshark's client -> server bytes");
            assert_eq!(to_client, sent, "tshark's server -> client bytes");
        }
        None if std::env::var_os("CI").is_some() => panic!("CI is set but tshark is missing"),
        None => eprintln!("SKIPPED: tshark is not installed; the capture was read in Rust only"),
    }
}

/// `tshark -qz follow,tcp,raw,0`: the first TCP stream's bytes each way, or
/// `None` without tshark.
fn tshark_follow(pcap: &Path) -> Option<(Vec<u8>, Vec<u8>)> {
    let output = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-qz", "follow,tcp,raw,0"])
        .output()
        .ok()?;
    assert!(output.status.success(), "tshark failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let (mut first, mut second) = (Vec::new(), Vec::new());
    // Lines of hex after the `Node 1:` header; a leading tab marks the
    // second node's (the server's) bytes.
    let body = text.split_once("Node 1:")?.1.split_once('\n')?.1;
    for line in body
        .lines()
        .filter(|l| !l.starts_with('=') && !l.trim().is_empty())
    {
        match line.strip_prefix('\t') {
            Some(h) => second.extend(hex(h.trim())),
            None => first.extend(hex(line.trim())),
        }
    }
    Some((first, second))
}

/// Run `socklab lab` on `text` written to a file; assert exit 2 and one line
/// on stderr that starts with the file's path and `:LINE:` and mentions
/// `says`.
fn assert_bad_file(text: &str, line: usize, says: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let file_arg = file.display().to_string();
    let out_arg = dir.path().join("out").display().to_string();
    let done = socklab(&["lab", &file_arg, "--out", &out_arg]).finish();
    done.assert_code(2);
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {done}");
    let prefix = format!("{}:{line}:", file.display());
    assert!(lines[0].contains(&prefix), "expected {prefix}: {done}");
    assert!(lines[0].contains(says), "expected {says:?}: {done}");
    assert!(!done.stderr.contains("panicked"), "{done}");
}

#[test]
fn lab_bad_files_name_the_line_and_the_field() {
    let nodes = "[nodes.s]\nguest = \"udp-echo-server\"\n[nodes.c]\nguest = \"udp-client\"\n";
    assert_bad_file(
        &format!("{nodes}[[links]]\nfrom = \"@c\"\nto = \"@s\"\nboth = {{ loss = \"130%\" }}\n"),
        8,
        "field `loss`",
    );
    assert_bad_file(
        &format!("{nodes}[[links]]\nfrom = \"@c\"\nto = \"@server\"\n"),
        7,
        "no node is named `server`",
    );
    assert_bad_file(
        &format!("{nodes}[[links]]\nfrom = \"@c\"\nto = \"@s\"\nboth = {{ reset_after = 100 }}\n"),
        8,
        "`reset_after` does not apply to a UDP link",
    );
    assert_bad_file(
        &format!("{nodes}timout = \"1s\"\n[[links]]\nfrom = \"@c\"\nto = \"@s\"\n"),
        5,
        "unknown field `timout`",
    );
    assert_bad_file("[nodes.s]\nguest = \"no-such-guest\"\n", 1, "node `s`");
    assert_bad_file(
        &format!("{nodes}[[links]]\nfrom = \"@c\"\nto = \"@s\"\n[messages]\ncount = 5\nsize = 3\n"),
        10,
        "node `c`: `size` 3 is too small",
    );
}

#[test]
fn lab_audit_names_both_legs() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let file_arg = example("baseline.toml").display().to_string();
    let out_arg = dir.path().join("out").display().to_string();
    let done = socklab(&[
        "--audit", &audit_arg, "--json", "lab", &file_arg, "--out", &out_arg, "--count", "3",
    ])
    .finish();
    done.assert_code(0);
    let report = done.json();
    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for client in report["clients"].as_array().unwrap() {
        let relay = client["relay"].as_str().unwrap();
        let link = lines
            .iter()
            .find(|l| l["kind"] == "link" && l["link"] == client["link"])
            .unwrap_or_else(|| panic!("no link line for {client:#}: {lines:#?}"));
        assert_eq!(link["relay"], relay);
        assert_eq!(link["server"], client["server_addr"]);
        assert_ne!(link["upstream"], link["relay"]);
        // The client was granted its relay, and used it.
        assert!(
            lines.iter().any(|l| l["decision"] == "allow"
                && l["guest"].as_str().unwrap().starts_with("client")
                && l["target"] == relay),
            "no allowed use of the relay {relay}: {lines:#?}"
        );
    }
}

/// Write `text` as an experiment file (and `extra` files beside it) and run
/// it: the process, its JSON document, and the directory (kept alive).
fn lab_text(text: &str, extra: &[(&str, &str)]) -> (Finished, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("experiment.toml");
    std::fs::write(&file, text).unwrap();
    for (name, content) in extra {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let (done, report, _out) = lab(&file, &[]);
    (done, report, dir)
}

#[test]
fn lab_inline_and_file_messages_run_for_every_round() {
    let (done, report, _dir) = lab_text(
        r#"
        seed = 3
        repeats = 2
        [nodes.upper]
        guest = "tcp-upper-server"
        [nodes.tcp]
        guest = "tcp-client"
        messages = { inline = ["hello", "good bye"] }
        [nodes.echo]
        guest = "udp-echo-server"
        listen = "[::1]:0"
        [nodes.udp]
        guest = "udp-client"
        messages = { file = "lines.txt" }
        [[links]]
        from = "@tcp"
        to = "@upper"
        [[links]]
        from = "@udp"
        to = "@echo"
        "#,
        &[("lines.txt", "one\ntwo\nthree\n")],
    );
    done.assert_code(0);
    let clients = report["clients"].as_array().unwrap();
    let links: Vec<&str> = clients
        .iter()
        .map(|c| c["link"].as_str().unwrap())
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    for round in ["/r0", "/r1"] {
        assert!(
            links.iter().filter(|l| l.ends_with(round)).count() == 2,
            "{links:?}"
        );
    }
    // The IPv6 server got a relay on ::1.
    let udp = clients.iter().find(|c| c["transport"] == "udp").unwrap();
    assert!(
        udp["relay"].as_str().unwrap().starts_with("[::1]:"),
        "{udp:#}"
    );
    assert_all_answered(&done, &report, "tcp");
    assert_all_answered(&done, &report, "udp");
    assert_eq!(n(&figures(&report, "tcp")["messages"]), 2 * 2);
    assert_eq!(n(&figures(&report, "udp")["messages"]), 3 * 2);
    // Messages without numbers carry none.
    assert!(
        report["fates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["seq"].is_null())
    );
}

#[test]
fn lab_node_rules_apply_to_its_guest() {
    // The client may not send to its relay: every message fails to send, the
    // refusals are in its record, and the run exits 1.
    let (done, report, _dir) = lab_text(
        r#"
        [messages]
        count = 3
        [nodes.s]
        guest = "udp-echo-server"
        [nodes.c]
        guest = "udp-client"
        deny = ["udp-send=127.0.0.1:*"]
        [[links]]
        from = "@c"
        to = "@s"
        "#,
        &[],
    );
    done.assert_code(1);
    let client = &report["clients"][0]["guest"];
    assert!(n(&client["refused_total"]) >= 3, "{client:#}");
    let fates: Vec<&str> = report["fates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fate"].as_str().unwrap())
        .collect();
    assert_eq!(fates, ["failed", "failed", "failed"], "{done}");
    // Nothing reached the server through the relay.
    assert_eq!(
        n(&report["clients"][0]["relay_stats"]["to_server"]["received"]),
        0
    );
}

#[test]
fn lab_progress_bar_shows_on_a_terminal() {
    // `script` runs socklab on a pseudo-terminal, where the bar draws; the
    // other tests show it stays silent on a pipe.
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "{} lab {} --count 6 --out {}",
        env!("CARGO_BIN_EXE_socklab"),
        example("tcp-vs-udp-loss.toml").display(),
        dir.path().join("out").display()
    );
    let Ok(output) = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
    else {
        eprintln!("SKIPPED: `script` (util-linux) is not installed");
        return;
    };
    let seen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{seen}");
    assert!(
        seen.contains("/12 messages round 1 of 1"),
        "no progress bar in: {seen}"
    );
}

#[test]
fn lab_a_spinning_node_is_stopped_and_the_others_carry_on() {
    let (done, report, _dir) = lab_text(
        r#"
        [messages]
        count = 5
        [nodes.s]
        guest = "tcp-echo-server"
        [nodes.good]
        guest = "tcp-client"
        [nodes.bad]
        guest = "hostile-spin"
        cpu_limit = "300ms"
        [[links]]
        from = "@good"
        to = "@s"
        [[links]]
        from = "@bad"
        to = "@s"
        "#,
        &[],
    );
    done.assert_code(3);
    let bad = report["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == "bad")
        .unwrap();
    assert!(
        bad["guest"]["error"]
            .as_str()
            .unwrap()
            .contains("--cpu-limit 300ms"),
        "{bad:#}"
    );
    assert_all_answered(&done, &report, "tcp");
    assert_eq!(n(&figures(&report, "tcp")["answered"]), 5);
}

#[test]
fn lab_ctrl_c_stops_and_reports_what_finished() {
    // The full loss example runs for several seconds (TCP waits out its
    // retransmission timeouts); interrupt it once it is under way.
    let out = tempfile::tempdir().unwrap();
    let file_arg = example("tcp-vs-udp-loss.toml").display().to_string();
    let out_arg = out.path().display().to_string();
    let mut lab = socklab(&["--json", "lab", &file_arg, "--out", &out_arg]);
    lab.wait_line(Stream::Stderr, "lab: ");
    let status = std::process::Command::new("kill")
        .args(["-INT", &lab.pid().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
    let done = lab.finish();
    done.assert_code(130);
    let report = done.json();
    assert_eq!(report["interrupted"], true, "{done}");
    // The server records are there, and every message of the cut-short
    // clients has a fate: decided by their relays, or `interrupted`.
    assert_eq!(report["servers"].as_array().unwrap().len(), 2, "{done}");
    assert_eq!(report["clients"].as_array().unwrap().len(), 2, "{done}");
    let fates = report["fates"].as_array().unwrap();
    assert_eq!(fates.len(), 80, "{done}");
    assert!(fates.iter().any(|f| f["fate"] == "interrupted"), "{done}");
    assert!(out.path().join("report.json").exists());
}

#[test]
fn lab_ctrl_c_keeps_the_fates_already_decided() {
    // A real Ctrl-C on a terminal (through `script`), once the progress bar
    // shows the run is under way: each reply takes 50 ms, so 60 messages
    // take 3 s.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.toml");
    std::fs::write(
        &file,
        "[messages]\ncount = 60\n[nodes.s]\nguest = \"udp-echo-server\"\n[nodes.c]\nguest = \"udp-client\"\n\
         timeout = \"1s\"\n[[links]]\nfrom = \"@c\"\nto = \"@s\"\nto_client = { delay = \"50ms\" }\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let command = format!(
        "{} lab {} --out {}",
        env!("CARGO_BIN_EXE_socklab"),
        file.display(),
        out_dir.display()
    );
    let Ok(mut script) = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("SKIPPED: `script` (util-linux) is not installed");
        return;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = script.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    let progress = |seen: &[u8]| {
        let text = String::from_utf8_lossy(seen);
        text.split("/60 messages")
            .filter_map(|before| {
                before
                    .rsplit(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
    };
    while progress(&seen) < 10 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!("no progress to 10/60: {}", String::from_utf8_lossy(&seen)),
        }
    }
    // Ctrl-C, as the terminal sends it.
    std::io::Write::write_all(script.stdin.as_mut().unwrap(), b"\x03").unwrap();
    let status = script.wait().unwrap();
    while let Ok(chunk) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
        seen.extend(chunk);
    }
    let shown = String::from_utf8_lossy(&seen).into_owned();
    assert_eq!(status.code(), Some(130), "{shown}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["interrupted"], true);
    let fates = report["fates"].as_array().unwrap();
    assert_eq!(fates.len(), 60, "every message has a fate: {report:#}");
    let count = |kind: &str| fates.iter().filter(|f| f["fate"] == kind).count();
    let (answered, interrupted) = (count("answered"), count("interrupted"));
    assert!(
        answered >= 9,
        "the replies already delivered are kept: {report:#}"
    );
    assert!(interrupted > 0, "{report:#}");
    assert_eq!(answered + interrupted, 60, "nothing was lost: {report:#}");
    for f in fates.iter().filter(|f| f["fate"] == "answered") {
        assert!(f["rtt_us"].as_f64().unwrap() >= 50_000.0, "{f}");
    }
    assert!(shown.contains("interrupted"), "{shown}");
}
