//! `socklab run` of a `wasi:cli@0.3.0` command (`wasi03-command`): it
//! prints, reads its args and opens a TCP socket under the same rules as a
//! 0.2 command; and `wasmtime run` does the same with it, when `wasmtime`
//! is on PATH (the test says SKIPPED otherwise).

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::*;

/// A native TCP server on loopback answering one line in upper case.
fn upper_once() -> (SocketAddr, Peer<Vec<Vec<u8>>>) {
    native_tcp_server(V4, Writes::Whole, |line| line.to_ascii_uppercase())
}

#[test]
fn wasi03_command_prints_reads_args_and_opens_a_tcp_socket() {
    let out = socklab(&["run", "wasi03-command", "--", "echo", "hello", "0.3"]).finish();
    out.assert_code(0);
    assert_eq!(out.stdout, "hello 0.3\n", "{out}");
    // Nothing granted: the socket itself is refused.
    let out = socklab(&["run", "wasi03-command", "--", "tcp", "127.0.0.1:9", "hi"]).finish();
    out.assert_code(1);
    assert!(out.stdout.contains("AccessDenied"), "{out}");
    let (addr, server) = upper_once();
    let out = send_hi(addr);
    out.assert_code(0);
    assert_eq!(out.stdout, "HI\n", "{out}");
    assert_eq!(server.join(), vec![b"hi\n".to_vec()]);
}

/// The same command under `wasmtime run`, when it is installed: the same
/// output and exit code.
#[test]
fn wasi03_command_same_under_wasmtime_run() {
    let found = Command::new("wasmtime").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "SKIPPED: wasmtime not on PATH; wasi03-command was not compared with `wasmtime run`"
        );
        return;
    }
    let path = lab()
        .compile("wasi03-command")
        .expect("the bundled command")
        .path;
    let (addr, server) = upper_once();
    let to = addr.to_string();
    let theirs = Command::new("wasmtime")
        .args(["run", "-Wcomponent-model-async", "-Sp3,inherit-network"])
        .arg(&path)
        .args(["tcp", &to, "hi"])
        .output()
        .expect("running wasmtime");
    server.join();
    let (addr, server) = upper_once();
    let ours = send_hi(addr);
    server.join();
    assert_eq!(ours.code, theirs.status.code(), "{ours}\n{theirs:?}");
    assert_eq!(ours.stdout.as_bytes(), theirs.stdout, "{ours}\n{theirs:?}");
}

/// `socklab run --allow tcp-connect=ADDR wasi03-command -- tcp ADDR hi`:
/// the command granted exactly the connection it makes.
fn send_hi(addr: std::net::SocketAddr) -> Finished {
    let (to, allow) = (addr.to_string(), format!("tcp-connect={addr}"));
    socklab(&[
        "run",
        "--allow",
        &allow,
        "wasi03-command",
        "--",
        "tcp",
        &to,
        "hi",
    ])
    .finish()
}
