//! Tests the sandbox flags of the `socklab` binary: bad rules, sizes and
//! durations are usage errors (exit 2, one line), a limit that stops a guest
//! exits 3 and is named, `--audit` writes the decisions of an exchange,
//! `--allow '*=*'` widens a guest, and `inspect` tells what a file is.

mod common;

use std::net::TcpListener;
use std::time::Duration;

use common::sandbox::*;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A native listener that accepts nothing (the kernel still completes
/// handshakes into its backlog), never blocking, and its address.
fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    (listener, addr)
}

/// Assert a usage error: exit 2, nothing on stdout, one line on stderr that
/// mentions `says`, and no panic.
fn assert_bad_input(ran: &Finished, says: &str) {
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stdout.is_empty(), "{ran}");
    let lines: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {ran}");
    assert!(lines[0].contains(says), "expected {says:?}: {ran}");
    assert!(!ran.stderr.contains("panicked"), "{ran}");
}

#[test]
fn sandbox_cli_bad_rules_sizes_durations_and_flags_exit_2_on_one_line() {
    let (_listener, to) = listener();
    let connect = ["connect", "tcp-client", "--to", &to];
    let exchange = [
        "exchange",
        "--server",
        "tcp-echo-server",
        "--client",
        "tcp-client",
    ];
    let table: [(&[&str], &[&str], &str); 12] = [
        (
            &connect,
            &["--allow", "tcp-frob=*"],
            "unknown operation `tcp-frob`",
        ),
        (
            &connect,
            &["--allow", "tcp-connect"],
            "no `=` between operations and targets",
        ),
        (
            &connect,
            &["--allow", "tcp=300.1.1.1"],
            "`300.1.1.1` is not an address",
        ),
        (
            &connect,
            &["--allow", "tcp=127.0.0.1:70000"],
            "`70000` is not a port",
        ),
        (
            &connect,
            &["--allow", "tcp=127.0.0.1:90-80"],
            "the port range `90-80` is reversed",
        ),
        (
            &connect,
            &["--deny", "udp=[::1"],
            "opens a `[` it does not close",
        ),
        (
            &connect,
            &["--allow", "dns=bad_name!"],
            "is not a name pattern",
        ),
        (
            &connect,
            &["--memory-limit", "lots"],
            "`lots` is not a size",
        ),
        (&connect, &["--cpu-limit", "0s"], "`0s` is zero"),
        (
            &connect,
            &["--deadline", "soon"],
            "`soon` is not a duration",
        ),
        (
            &connect,
            &["--max-connections", "3"],
            "--max-connections limits a server",
        ),
        (
            &exchange,
            &["--client-deny", "tcp-frob=*"],
            "unknown operation `tcp-frob`",
        ),
    ];
    let mut failed = Vec::new();
    for (command, flags, says) in table {
        let args: Vec<&str> = command.iter().chain(flags).copied().collect();
        let ran = socklab_run(&args);
        let check = std::panic::catch_unwind(|| assert_bad_input(&ran, says));
        if check.is_err() {
            failed.push(format!("{args:?}:\n{ran}"));
        }
    }
    eprintln!("bad input: {} cases, {} failed", table.len(), failed.len());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn sandbox_cli_spin_stopped_by_cpu_limit_exits_3_naming_it() {
    let (_listener, to) = listener();
    let args = [
        "--json",
        "connect",
        "hostile-spin",
        "--to",
        &to,
        "--cpu-limit",
        "300ms",
    ];
    let ran = socklab_run(&args);
    assert_eq!(ran.code, Some(3), "{ran}");
    let report: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {ran}"));
    let client = &report["runs"][0]["client"];
    let hit = &client["limits"][0];
    assert_eq!(hit["limit"], "cpu-limit", "{ran}");
    assert_eq!(
        (&hit["value"], &hit["stopped"]),
        (&"300ms".into(), &true.into()),
        "{ran}"
    );
    let error = client["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("stopped by a limit: --cpu-limit 300ms reached"),
        "{ran}"
    );
    assert!(!ran.stderr.contains("panicked"), "{ran}");
    let over = ran.took.saturating_sub(Duration::from_millis(300));
    eprintln!(
        "socklab {}: exited {:?} after starting, {over:?} past the limit (start-up included)",
        args.join(" "),
        ran.took
    );
}

#[test]
fn sandbox_cli_exchange_client_deny_writes_the_audit() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let args = [
        "--json",
        "--audit",
        audit.to_str().unwrap(),
        "exchange",
        "--server",
        "tcp-echo-server",
        "--client",
        "tcp-client",
        "--client-deny",
        "tcp-connect=localhost",
    ];
    let ran = socklab_run(&args);
    assert_eq!(ran.code, Some(1), "{ran}");
    let report: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {ran}"));
    let server = report["runs"][0]["server"]["listening"]
        .as_str()
        .unwrap_or_default();
    let lines = read_audit(&audit);
    let shown = format!("{ran}\n--- audit:\n{lines:#?}");
    let denied: Vec<&Value> = lines.iter().filter(|l| l["decision"] == "deny").collect();
    assert_eq!(denied.len(), 1, "one refusal: {shown}");
    let deny = denied[0];
    assert_eq!(
        (&deny["guest"], &deny["op"]),
        (&"client tcp-client".into(), &"tcp-connect".into()),
        "{shown}"
    );
    assert_eq!(
        (&deny["target"], &deny["silent"]),
        (&server.into(), &false.into()),
        "{shown}"
    );
    assert_eq!(deny["rule"], "deny: tcp-connect=localhost:*", "{shown}");
    // The server's allowed uses, one line each with a count.
    for op in ["tcp-bind", "tcp-listen"] {
        let line = lines
            .iter()
            .find(|l| l["guest"] == "server tcp-echo-server" && l["op"] == op);
        let line = line.unwrap_or_else(|| panic!("no {op} line for the server: {shown}"));
        assert_eq!(
            (&line["decision"], &line["count"]),
            (&"allow".into(), &1.into()),
            "{shown}"
        );
        assert!(
            line["rule"]
                .as_str()
                .unwrap_or_default()
                .starts_with("wiring: "),
            "{shown}"
        );
    }
    let allowed = lines.iter().filter(|l| l["decision"] == "allow");
    assert!(
        allowed.clone().all(|l| l["count"].as_u64() >= Some(1)),
        "{shown}"
    );
    assert!(allowed.clone().all(|l| l["op"] != "tcp-connect"), "{shown}");
    assert!(
        allowed.clone().all(|l| l["op"] != "tcp-accept"),
        "nobody connected: {shown}"
    );
}

/// `socklab connect hostile-escape` against a silent server, trying to reach
/// `target` besides; its report, and whether `target` saw a connection.
fn escape(target: &TcpListener, extra: &[&str]) -> (Finished, Value, bool) {
    let (_server, to) = listener();
    let aim = format!("target={}", target.local_addr().unwrap());
    let mut args = vec![
        "--json",
        "connect",
        "hostile-escape",
        "--to",
        &to,
        "--param",
        &aim,
    ];
    args.extend(["--message", "hi", "--timeout-ms", "200"]);
    args.extend(extra);
    let ran = socklab_run(&args);
    let report: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {ran}"));
    let refused = report["runs"][0]["client"]["refusals"].clone();
    (ran, refused, target.accept().is_ok())
}

#[test]
fn sandbox_cli_allow_star_widens_a_client() {
    let ops = |refused: &Value| -> Vec<String> {
        let list = refused.as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|r| r["op"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (target, _) = listener();
    let (ran, refused, reached) = escape(&target, &[]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(
        ops(&refused),
        ["tcp-bind", "tcp-connect", "udp-bind"],
        "{ran}"
    );
    assert!(!reached, "the forbidden listener saw a connection: {ran}");
    // The same guest, widened: bind and connect go through; a UDP socket is
    // still not part of a TCP guest's role.
    let (ran, refused, reached) = escape(&target, &["--allow", "*=*"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(ops(&refused), ["udp-bind"], "{ran}");
    assert!(reached, "the widened guest's connect did not arrive: {ran}");
}

#[test]
fn sandbox_cli_inspect_tcp_echo_server_json() {
    let ran = socklab_run(&["inspect", "tcp-echo-server", "--json"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    let info: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {ran}"));
    assert_eq!(info["kind"], "tcp-server", "{ran}");
    let has = |key: &str, item: &str| {
        info[key]
            .as_array()
            .is_some_and(|a| a.contains(&item.into()))
    };
    assert!(has("imports", "wasi:sockets/tcp@0.2.12"), "{ran}");
    assert!(!has("imports", "wasi:sockets/udp@0.2.12"), "{ran}");
    assert!(has("exports", "socklab:lab/tcp-server-role@0.1.0"), "{ran}");
    let sha = info["sha256"].as_str().unwrap_or_default();
    assert!(
        sha.len() == 64 && sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{ran}"
    );
    let bytes =
        std::fs::read(info["path"].as_str().unwrap_or_default()).expect("the inspected file");
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, actual, "the hash of the file itself: {ran}");
    assert_eq!(info["size"], bytes.len(), "{ran}");
}

#[test]
fn sandbox_cli_inspect_core_module_or_text_file_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (core, text) = (dir.path().join("core.wasm"), dir.path().join("notes.txt"));
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(&text, "not a component\n").unwrap();
    let ran = socklab_run(&["inspect", core.to_str().unwrap()]);
    assert_bad_input(
        &ran,
        "is a core WebAssembly module (a WASI preview 1 program, say), not a component",
    );
    let ran = socklab_run(&["inspect", text.to_str().unwrap()]);
    assert_bad_input(&ran, "is not a WebAssembly file");
}
