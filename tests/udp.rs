//! UDP end to end: the guest client and the guest echo server with each
//! other, with native `std::net` peers on IPv4 and IPv6, with the seed notes'
//! Python steps, and against a server that drops replies.

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::udp::*;
use common::*;
use socklab::exchange;
use socklab::report::{ExchangeRecord, Expect};
use socklab::roles::Transport;

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_guest_server_replies_byte_exact() {
    let datagrams = tricky_datagrams();
    let server = server_spec("udp-echo-server", any_port(V4), None);
    let client = client_spec("udp-client", &datagrams, 5_000, Expect::Echo);
    let run = within("the exchange", exchange::exchange(&lab(), server, client)).await;
    let report = json_of(vec![run]);

    // UDP keeps boundaries: each reply is exactly its datagram, no framing.
    assert_replies(&report, &datagrams, <[u8]>::to_vec);
    let records = client_messages(&report);
    assert!(records.iter().all(|m| m["ok"] == true), "{report:#}");
    assert_eq!(
        records[1]["reply"]["text"],
        "h\u{e9}llo w\u{f6}rld \u{2713}"
    );
    assert!(records[2]["reply"]["base64"].is_string(), "{report:#}");
    let total: usize = datagrams.iter().map(Vec::len).sum();
    let served = &report["runs"][0]["server"]["served"];
    assert_eq!(served["sessions"], datagrams.len(), "{report:#}");
    assert_eq!(served["bytes_in"], total, "{report:#}");
    assert_eq!(served["bytes_out"], total, "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_server_native_client_echoes_ipv4() {
    guest_server_native_client("udp-echo-server", V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_server_native_client_echoes_ipv6() {
    guest_server_native_client("udp-echo-server", V6).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_native_server_replies_ipv4() {
    guest_client_native_server("udp-client", V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_native_server_replies_ipv6() {
    guest_client_native_server("udp-client", V6).await;
}

#[test]
fn udp_guest_client_native_server_drops_every_other_reply_reports_lost() {
    client_drops_every_other_reply_reports_lost("udp-client");
}

#[test]
fn udp_guest_server_python_client_seed_steps() {
    if !python3() {
        return;
    }
    // One datagram answered is the one session allowed.
    let (served, server) = seed_client_against("udp", "udp-echo-server");
    assert_eq!(served["sessions"], 1, "{server}");
    assert_eq!(served["bytes_in"], 7, "{server}");
}

#[test]
fn udp_guest_client_python_server_seed_steps() {
    if !python3() {
        return;
    }
    let (record, client) = seed_server_for("udp", "udp-client", "reply message", b"message");
    assert_eq!(record["status"], "complete", "{client}");
    assert_eq!(record["reply"]["text"], "reply message", "{client}");
}
/// A native server that answers each numbered datagram twice over: first
/// with the previous datagram's echo again (a stale duplicate), then with
/// its own.
fn stale_first_server(count: usize) -> (SocketAddr, Peer<()>) {
    let socket = UdpSocket::bind(any_port(V4)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap();
    let peer = peer("the stale-first server", move || {
        let mut previous = b"#000000 nothing yet".to_vec();
        let mut buf = vec![0; 2048];
        for _ in 0..count {
            let (n, from) = socket.recv_from(&mut buf).unwrap();
            socket.send_to(&previous, from).unwrap();
            socket.send_to(&buf[..n], from).unwrap();
            previous = buf[..n].to_vec();
        }
    });
    (addr, peer)
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_matching_by_seq_skips_stale_replies() {
    let messages: Vec<Vec<u8>> = (1..=3)
        .map(|i| format!("#00000{i} hello").into_bytes())
        .collect();
    for (by_seq, want_own) in [(true, true), (false, false)] {
        let (addr, server) = stale_first_server(messages.len());
        let mut spec = client_spec("udp-client", &messages, 5_000, Expect::Echo);
        if by_seq {
            spec.params.push(("match".into(), "seq".into()));
        }
        let record = within("the client", exchange::run_client(&lab(), &spec, addr)).await;
        server.join();
        let report = json_of(vec![ExchangeRecord {
            transport: Transport::Udp,
            server: None,
            client: Some(record),
        }]);
        let replies: Vec<Option<Vec<u8>>> = client_messages(&report)
            .iter()
            .map(|m| payload(&m["reply"]))
            .collect();
        let own: Vec<Option<Vec<u8>>> = messages.iter().cloned().map(Some).collect();
        // With match=seq each reply is the message's own echo; without it,
        // the next datagram, which is the stale one.
        assert_eq!(replies == own, want_own, "match=seq {by_seq}:\n{report:#}");
    }
}

/// `--udp-sockets wasmtime-wasi`: the demo's exchanges pass on
/// wasmtime-wasi's UDP sockets as on socklab's own; the simulated network,
/// which has sockets of its own, refuses the flag by name.
#[test]
fn udp_sockets_flag_runs_wasmtime_wasis_and_is_refused_on_the_simulated_network() {
    let out = socklab(&["--udp-sockets", "wasmtime-wasi", "demo"]).finish();
    out.assert_code(0);
    assert!(out.stdout.contains("== UDP exchange"), "{out}");
    let args = [
        "--network",
        "simulated",
        "--udp-sockets",
        "wasmtime-wasi",
        "demo",
    ];
    let says = "--udp-sockets chooses the real network's UDP";
    assert_one_error_line(&socklab(&args).finish(), 2, &[says]);
}
