//! WASI 0.3 guests beside WASI 0.2 ones in one host: every TCP server with
//! every TCP client across versions, byte-exact on IPv4 and IPv6; 0.3 guests
//! with native `std::net` peers and the seed notes' Python steps; their
//! grants, refusals and audit; the stop future ending a 0.3 server with its
//! report; `inspect` and `guests` naming the version; and components of a
//! version socklab does not serve. (`socklab run` of a `wasi:cli@0.3.0`
//! command is in `tests/run.rs`.)

mod common;

use std::net::IpAddr;

use common::sandbox::{decisions, read_audit, rules, start_probe};
use common::tcp::*;
use common::*;
use socklab::exchange::{self, start_server};
use socklab::report::Expect;

/// Every TCP server: the 0.2 poll loop, the 0.2 std::net one, the 0.3 one,
/// and the upper-case one (std::net, 0.2).
const SERVERS: [&str; 4] = [
    "tcp-echo-server",
    "tcp-std-echo-server",
    "wasi03-tcp-echo-server",
    "tcp-upper-server",
];
/// Every TCP client: 0.2 (wasi:sockets, std::net) and 0.3.
const CLIENTS: [&str; 3] = ["tcp-client", "tcp-std-client", "wasi03-tcp-client"];

/// Lines that must come back byte for byte: ASCII, UTF-8, bytes that are
/// not UTF-8, one longer than a 64 KiB read, and an empty one.
fn messages() -> Vec<Vec<u8>> {
    let not_utf8: Vec<u8> = (0x80..=0xffu8).collect();
    let large: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    vec![
        b"hello".to_vec(),
        "caf\u{e9} \u{2615}".into(),
        not_utf8,
        large,
        Vec::new(),
    ]
}

/// Every server with every client on `ip`: each exchange succeeds, each
/// reply is the line sent (in upper case from the upper-case server), and
/// only the servers that cannot poll the stop signal are cancelled.
async fn every_server_every_client(ip: IpAddr) {
    for server in SERVERS {
        let upper = server == "tcp-upper-server";
        // The upper-case server reads lines as text.
        let sent: Vec<Vec<u8>> = match upper {
            true => vec![b"hello".to_vec(), b"Mixed Case 42".to_vec()],
            false => messages(),
        };
        for client in CLIENTS {
            let pair = format!("{client} -> {server} on {ip}");
            let expect = if upper { Expect::Any } else { Expect::Echo };
            let run = within(
                &pair,
                exchange::exchange(
                    &lab(),
                    server_spec(server, any_port(ip), None),
                    client_spec(client, &sent, 10_000, expect),
                ),
            )
            .await;
            let ok = run.ok();
            let report = json_of(vec![run]);
            assert!(ok, "{pair}: {report:#}");
            let want = |m: &[u8]| match upper {
                true => framed(&m.to_ascii_uppercase()),
                false => framed(m),
            };
            assert_replies(&report, &sent, want);
            let server_record = &report["runs"][0]["server"];
            let stops_itself = !server.contains("-std-") && !upper;
            assert_eq!(
                server_record["cancelled"] != true,
                stops_itself,
                "{pair}: {report:#}"
            );
            if stops_itself {
                assert_eq!(server_record["served"]["sessions"], 1, "{pair}: {report:#}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_every_server_every_client_across_wasi_versions_ipv4() {
    every_server_every_client(V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_every_server_every_client_across_wasi_versions_ipv6() {
    every_server_every_client(V6).await;
}

/// The 0.3 echo server on `ip`, one native client sending three lines; one
#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_server_native_client_echoes_ipv4() {
    guest_server_native_client("wasi03-tcp-echo-server", V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_server_native_client_echoes_ipv6() {
    guest_server_native_client("wasi03-tcp-echo-server", V6).await;
}

/// The 0.3 client against a native server on `ip` answering each line in
#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_client_native_server_replies_ipv4() {
    guest_client_native_server("wasi03-tcp-client", V4, Writes::Whole, messages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_client_native_server_replies_ipv6() {
    guest_client_native_server("wasi03-tcp-client", V6, Writes::Whole, messages()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_client_native_server_byte_at_a_time_replies_byte_exact() {
    let mut sent = messages();
    sent.truncate(3); // 100 000 one-byte writes would only be slow
    sent.push(b"last".to_vec());
    guest_client_native_server("wasi03-tcp-client", V4, Writes::ByteAtATime, sent).await;
}

#[test]
fn tcp_wasi03_server_python_client_seed_steps() {
    if !python3() {
        return;
    }
    let (served, server) = seed_client_against("tcp", "wasi03-tcp-echo-server");
    assert_eq!(served["sessions"], 1, "{server}");
    assert_eq!(served["bytes_in"], 7, "{server}");
    assert_eq!(served["bytes_out"], 7, "{server}");
}

#[test]
fn tcp_wasi03_client_python_server_seed_steps() {
    if !python3() {
        return;
    }
    let (record, client) =
        seed_server_for("tcp", "wasi03-tcp-client", "reply_message", b"message\n");
    assert_eq!(record["status"], "closed", "{client}");
    assert_eq!(record["reply"]["text"], "reply_message", "{client}");
}

/// No session limit: only the stop future ends the server, and it still
/// returns its report (it is not cancelled).
#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_server_stop_future_ends_it_with_its_report() {
    let spec = server_spec("wasi03-tcp-echo-server", any_port(V4), None);
    let running = within("the server to listen", start_server(&lab(), spec))
        .await
        .unwrap_or_else(|record| panic!("the server failed: {record:#?}"));
    let addr = running.connect_addr();
    let lines = vec![framed(b"before the stop")];
    let sent = lines.clone();
    let replies = peer("the native client", move || native_tcp_client(addr, &sent)).join();
    assert_eq!(replies, lines);
    let record = within("the server to stop", running.stop()).await;
    assert!(!record.guest.cancelled, "{record:#?}");
    let served = record.served.as_ref().expect("a report after the stop");
    assert_eq!(served.sessions, 1, "{record:#?}");
    assert_eq!(served.bytes_out as usize, lines[0].len(), "{record:#?}");
}

/// A denied connect: the 0.3 client sees `access-denied`, the native
/// server sees nothing, the audit names the rule.
#[test]
fn tcp_wasi03_client_denied_connect_refused_and_audited() {
    let native = std::net::TcpListener::bind(any_port(V4)).unwrap();
    let to = native.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let deny = format!("tcp-connect={to}");
    let path = audit.display().to_string();
    let out = socklab(&[
        "connect",
        "wasi03-tcp-client",
        "--to",
        &to,
        "--message",
        "hi",
        "--deny",
        &deny,
        "--audit",
        &path,
        "--json",
    ])
    .finish();
    out.assert_code(1);
    let client = &out.json()["runs"][0]["client"];
    let error = client["error"].as_str().unwrap_or_default();
    assert!(error.ends_with("access-denied"), "{out}");
    native.set_nonblocking(true).unwrap();
    assert!(
        native.accept().is_err(),
        "the native server saw a connection: {out}"
    );
    let lines = read_audit(&audit);
    let denied = decisions(&lines, "deny", "tcp-connect", &to);
    assert_eq!(denied.len(), 1, "{lines:#?}");
    assert_eq!(denied[0]["rule"], format!("deny: {deny}"), "{lines:#?}");
}

/// A 0.3 TCP role may not create a UDP socket: `access-denied`, recorded.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_role_refused_a_udp_socket_and_audited() {
    let params = [("op", "udp".to_string())];
    let allow = vec!["tcp=127.0.0.1:*".to_string()];
    let probe = start_probe(
        "wasi03-probe-tcp",
        "udp",
        any_port(V4),
        &params,
        rules(&allow, &[]),
    );
    let probed = probe.await.finish().await;
    assert_eq!(
        probed.result,
        Err("socket: access-denied".into()),
        "{}",
        probed.stderr
    );
    let refused = decisions(&probed.audit, "deny", "udp-bind", "(socket creation)");
    assert_eq!(refused.len(), 1, "{:#?}", probed.audit);
    assert_eq!(refused[0]["rule"], "a TCP guest is granted no UDP socket");
}

#[test]
fn tcp_wasi03_inspect_and_guests_name_the_wasi_version() {
    let inspected = socklab(&["inspect", "wasi03-tcp-client", "--json"]).finish();
    inspected.assert_code(0);
    let doc = inspected.json();
    assert_eq!(doc["kind"], "tcp-client", "{inspected}");
    assert_eq!(doc["wasi"], "0.3", "{inspected}");
    let old = socklab(&["inspect", "tcp-client", "--json"]).finish();
    assert_eq!(old.json()["wasi"], "0.2", "{old}");
    let listed = socklab(&["guests", "--json"]).finish();
    listed.assert_code(0);
    let doc = listed.json();
    let guests = doc["guests"].as_array().expect("a list of guests");
    let wasi_of = |name: &str| {
        let row = guests.iter().find(|g| g["name"] == name);
        row.map(|g| g["wasi"].clone()).unwrap_or_default()
    };
    assert_eq!(wasi_of("wasi03-tcp-echo-server"), "0.3", "{listed}");
    assert_eq!(wasi_of("wasi03-command"), "0.3", "{listed}");
    assert_eq!(wasi_of("tcp-echo-server"), "0.2", "{listed}");
}

/// A component file written from `wat` in a scratch directory.
fn component(wat: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guest.wasm");
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

#[test]
fn wasi_unserved_version_or_mixed_sockets_one_line_exit_2() {
    let (_d, unserved) = component(r#"(component (import "wasi:sockets/types@0.4.0" (instance)))"#);
    for cmd in ["inspect", "serve"] {
        bad_input(
            &[cmd, &unserved],
            &["wasi:sockets/types@0.4.0", "0.2.x", "0.3.0"],
        );
    }
    let (_d, mixed) = component(
        r#"(component
            (import "wasi:sockets/tcp@0.2.3" (instance))
            (import "wasi:sockets/types@0.3.0" (instance)))"#,
    );
    bad_input(
        &["run", &mixed],
        &[
            "mixes",
            "wasi:sockets/tcp@0.2.3",
            "wasi:sockets/types@0.3.0",
        ],
    );
    let (_d, rc) =
        component(r#"(component (import "wasi:cli/stdout@0.3.0-rc-2025-09-16" (instance)))"#);
    bad_input(
        &["run", &rc],
        &["wasi:cli/stdout@0.3.0-rc-2025-09-16", "0.3.0"],
    );
}
