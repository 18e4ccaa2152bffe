//! Safe reflexes and outputs that cannot be lost: Ctrl-C (SIGINT) and
//! SIGTERM stop every command soon, with what finished reported and exit
//! code 130; a closed stdout ends socklab quietly, as Unix tools end; an
//! output file that cannot be written is named, exit 1, and the rest is
//! still written.

mod common;

use std::net::UdpSocket;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// How soon after a signal a command must have exited in these tests: far
/// less than the 30 s each would run otherwise (the figure itself is in the
/// README, measured by hand).
const STOPPED_WITHIN: Duration = Duration::from_secs(5);

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Signal `proc` once `ready` has been seen on stderr; the finished process
/// and how long it took to end after the signal.
fn interrupt_after(mut proc: Proc, ready: &str, name: &str) -> (Finished, Duration) {
    proc.wait_line(Stream::Stderr, ready);
    let sent = Instant::now();
    signal(proc.pid(), name);
    let out = proc.finish();
    (out, sent.elapsed())
}

/// A UDP socket that never answers: a client waiting on it waits its whole
/// timeout.
fn silent() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    (socket, addr)
}

#[test]
fn reflexes_connect_stops_on_ctrl_c_and_says_so() {
    let (silent, to) = silent();
    let proc = socklab(&[
        "--json",
        "connect",
        "udp-client",
        "--to",
        &to,
        "--timeout-ms",
        "30000",
    ]);
    // Signal once the client's first datagram has come: it then waits 30 s.
    silent.set_read_timeout(Some(WAIT)).unwrap();
    silent
        .recv_from(&mut [0; 64])
        .expect("the client's datagram");
    let sent = Instant::now();
    signal(proc.pid(), "INT");
    let out = proc.finish();
    let took = sent.elapsed();
    out.assert_code(130);
    assert!(took < STOPPED_WITHIN, "took {took:?}: {out}");
    let report = out.json();
    assert_eq!(report["runs"][0]["client"]["interrupted"], true, "{out}");
    assert!(out.stderr.contains("stopping"), "{out}");
}

#[test]
fn reflexes_exchange_stops_on_ctrl_c_with_the_server_report() {
    // The server may not answer, so the client waits its 30 s timeout.
    let args = [
        "exchange",
        "--server",
        "udp-echo-server",
        "--client",
        "udp-client",
        "--timeout-ms",
        "30000",
        "--server-deny",
        "udp-send=*",
        "-v",
    ];
    let proc = socklab(&args);
    let watch = MemoryWatch::start(proc.pid(), MEMORY_CEILING);
    // The server's refused reply is logged once the first message is in.
    let (out, took) = interrupt_after(proc, "[server udp-echo-server] debug: sendto", "INT");
    watch.peak();
    out.assert_code(130);
    assert!(took < STOPPED_WITHIN, "took {took:?}: {out}");
    assert!(
        out.stdout
            .contains("interrupted by Ctrl-C before it reported its messages"),
        "{out}"
    );
    assert!(
        out.stdout.contains("server served"),
        "the server's report: {out}"
    );
    assert!(out.stdout.contains("result: interrupted"), "{out}");
}

#[test]
fn reflexes_run_stops_on_sigterm() {
    let (silent, to) = silent();
    let proc = socklab(&[
        "run",
        "net-command",
        "--allow",
        "udp=*",
        "--",
        "udp",
        &to,
        "hello",
    ]);
    silent.set_read_timeout(Some(WAIT)).unwrap();
    silent
        .recv_from(&mut [0; 64])
        .expect("the command's datagram");
    let sent = Instant::now();
    signal(proc.pid(), "TERM");
    let out = proc.finish();
    out.assert_code(130);
    assert!(sent.elapsed() < STOPPED_WITHIN, "{out}");
    assert!(out.stderr.contains("interrupted"), "{out}");
}

#[test]
fn reflexes_bench_stops_on_ctrl_c_and_prints_what_finished() {
    let proc = socklab(&["bench", "--quick", "--only", "concurrent,connect"]);
    let (out, took) = interrupt_after(proc, "bench: ", "INT");
    out.assert_code(130);
    assert!(took < STOPPED_WITHIN, "took {took:?}: {out}");
    assert!(
        out.stdout.contains("interrupted: Ctrl-C stopped the bench"),
        "{out}"
    );
}

#[test]
fn reflexes_a_closed_stdout_ends_quietly() {
    for args in [
        &["guests"][..],
        &["inspect", "tcp-echo-server"],
        &["--json", "demo"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_socklab"))
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc_sigpipe()),
            "{args:?}: {status:?}\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// SIGPIPE's number on Linux.
fn libc_sigpipe() -> i32 {
    13
}

#[test]
fn reflexes_pcap_on_a_full_disk_is_found_before_any_guest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out_arg = dir.path().display().to_string();
    let file = example("tcp-vs-udp-loss.toml");
    let started = Instant::now();
    let out = socklab(&["lab", &file, "--out", &out_arg, "--pcap", "/dev/full"]).finish();
    out.assert_code(1);
    assert!(out.stderr.contains("cannot write /dev/full"), "{out}");
    assert!(out.stdout.is_empty(), "nothing ran: {out}");
    // The full run waits out TCP's retransmission timeouts for seconds.
    assert!(started.elapsed() < STOPPED_WITHIN, "{out}");
}

#[test]
fn reflexes_an_unwritable_report_is_named_and_the_rest_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // report.json is a link to a full disk; the chart and summary go on.
    std::os::unix::fs::symlink("/dev/full", dir.path().join("report.json")).unwrap();
    let out_arg = dir.path().display().to_string();
    let file = example("baseline.toml");
    let out = socklab(&["lab", &file, "--out", &out_arg, "--count", "2"]).finish();
    out.assert_code(1);
    assert!(out.stderr.contains("report.json"), "{out}");
    assert!(
        out.stdout.contains("UDP: 2 of 2 answered"),
        "the summary: {out}"
    );
    let chart = std::fs::read_to_string(dir.path().join("rtt.svg")).unwrap();
    assert!(chart.contains("<svg"), "the chart is still written");
}

#[test]
fn reflexes_an_unwritable_audit_is_exit_1_naming_it() {
    let out = socklab(&["--audit", "/dev/full", "demo"]).finish();
    out.assert_code(1);
    assert!(
        out.stderr.contains("cannot write the audit file /dev/full"),
        "{out}"
    );
    let out = socklab(&["--audit", "/no/such/dir/audit.jsonl", "demo"]).finish();
    out.assert_code(2);
    assert!(out.stderr.contains("/no/such/dir/audit.jsonl"), "{out}");
}

fn example(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .display()
        .to_string()
}
