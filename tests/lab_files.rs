//! Tests `socklab lab` on files written by the test: bad files get one line
//! naming the line and the field; the audit names both legs of every link;
//! messages inline and from files; node rules; the progress bar; a spinning
//! node stopped while the others carry on; Ctrl-C keeps what finished.

mod common;

use common::*;
use serde_json::Value;

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
    let bad = client(&report, "bad");
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

/// What `stream` yields, chunk by chunk, on a thread of its own.
fn chunks(mut stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// The highest `N` of the progress bar's `N/TOTAL messages` in `seen`.
fn messages_shown(seen: &[u8], total: usize) -> u64 {
    let text = String::from_utf8_lossy(seen);
    text.split(&format!("/{total} messages"))
        .filter_map(|before| {
            before
                .rsplit(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(0)
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
    let rx = chunks(script.stdout.take().unwrap());
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    while messages_shown(&seen, 60) < 10 {
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
