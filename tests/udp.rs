//! UDP end to end: the guest client and the guest echo server with each
//! other, with native `std::net` peers on IPv4 and IPv6, with the seed notes'
//! Python steps, and against a server that drops replies.

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};

use common::*;
use socklab::exchange::{self, start_server};
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

/// The guest echo server on `ip`, one native client sending three datagrams.
async fn guest_server_native_client(ip: IpAddr) {
    let datagrams = tricky_datagrams()[..3].to_vec();
    let sessions = datagrams.len() as u64;
    let spec = server_spec("udp-echo-server", any_port(ip), Some(sessions));
    let running = within("the server to listen", start_server(&lab(), spec))
        .await
        .unwrap_or_else(|record| panic!("the server failed: {record:#?}"));
    assert_eq!(running.addr.ip(), ip, "it binds where it was told");
    let addr = running.connect_addr();
    let sent = datagrams.clone();
    let client = peer("the native client", move || native_udp_client(addr, &sent));
    // With its session limit reached the server returns by itself; the sleep
    // only bounds the wait.
    let record = running.finish(tokio::time::sleep(WAIT)).await;
    let replies = client.join();
    assert_eq!(replies, datagrams, "server: {record:#?}");
    let served = record.served.as_ref().expect("a server report");
    assert_eq!(served.sessions, sessions, "{record:#?}");
    assert!(record.guest.refusals.is_empty(), "{record:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_server_native_client_echoes_ipv4() {
    guest_server_native_client(V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_server_native_client_echoes_ipv6() {
    guest_server_native_client(V6).await;
}

/// The guest client against a native server on `ip` that answers each
/// datagram reversed.
async fn guest_client_native_server(ip: IpAddr) {
    let datagrams = tricky_datagrams();
    let (addr, server) = native_udp_server(ip, datagrams.len(), |_, d| {
        Some(d.iter().rev().copied().collect())
    });
    let spec = client_spec("udp-client", &datagrams, 5_000, Expect::Any);
    let record = within("the client", exchange::run_client(&lab(), &spec, addr)).await;
    let report = json_of(vec![ExchangeRecord {
        transport: Transport::Udp,
        server: None,
        client: Some(record),
    }]);
    let received = server.join();
    assert_eq!(
        received, datagrams,
        "the native server got each datagram:\n{report:#}"
    );
    assert_replies(&report, &datagrams, |d| d.iter().rev().copied().collect());
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_native_server_replies_ipv4() {
    guest_client_native_server(V4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn udp_guest_client_native_server_replies_ipv6() {
    guest_client_native_server(V6).await;
}

#[test]
fn udp_guest_client_native_server_drops_every_other_reply_reports_lost() {
    const SENT: usize = 6;
    // Answers datagrams 0, 2 and 4; 1, 3 and 5 get no reply.
    let (addr, server) = native_udp_server(V4, SENT, |i, d| (i % 2 == 0).then(|| d.to_vec()));
    let to = addr.to_string();
    let mut args = vec!["connect", "udp-client", "--to", &to, "--timeout-ms", "300"];
    let messages: Vec<String> = (0..SENT).map(|i| format!("datagram {i}")).collect();
    for m in &messages {
        args.extend(["--message", m]);
    }
    args.extend(["--expect", "echo", "--json"]);
    let client = socklab(&args).finish();
    let received = server.join();
    assert_eq!(received.len(), SENT, "every datagram was sent: {client}");

    // A lost reply fails the exchange (exit 1); it never hangs it.
    client.assert_code(1);
    let report = client.json();
    let records = client_messages(&report);
    assert_eq!(records.len(), SENT, "{client}");
    for (i, (record, message)) in records.iter().zip(&messages).enumerate() {
        if i % 2 == 0 {
            assert_eq!(record["status"], "complete", "#{i}: {client}");
            assert_eq!(record["reply"]["text"], message.as_str(), "#{i}: {client}");
            assert_eq!(record["ok"], true, "#{i}: {client}");
        } else {
            assert_eq!(record["status"], "lost", "#{i}: {client}");
            assert!(record["reply"].is_null(), "#{i}: {client}");
            assert_eq!(record["ok"], false, "#{i}: {client}");
            // It waited out its timeout, and no more than that by much.
            let rtt_us = record["rtt_us"].as_f64().unwrap();
            assert!((300_000.0..5_000_000.0).contains(&rtt_us), "#{i}: {client}");
        }
    }
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
/// A native UDP server on `ip`: it reads `count` datagrams and answers the
/// `i`-th with `answer(i, datagram)` when that is `Some`. The peer yields the
/// datagrams it received.
pub fn native_udp_server(
    ip: IpAddr,
    count: usize,
    answer: fn(usize, &[u8]) -> Option<Vec<u8>>,
) -> (SocketAddr, Peer<Vec<Vec<u8>>>) {
    let socket = UdpSocket::bind(any_port(ip)).expect("binding a native UDP server");
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let addr = socket.local_addr().unwrap();
    let peer = peer("the native UDP server", move || {
        let mut received = Vec::new();
        let mut buf = vec![0; 65536];
        for i in 0..count {
            let (n, from) = socket.recv_from(&mut buf).expect("receiving a datagram");
            received.push(buf[..n].to_vec());
            if let Some(reply) = answer(i, &buf[..n]) {
                socket.send_to(&reply, from).unwrap();
            }
        }
        received
    });
    (addr, peer)
}

/// A native UDP client: send each datagram to `server` and wait for one reply
/// from it. Returns the replies.
pub fn native_udp_client(server: SocketAddr, datagrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let socket = UdpSocket::bind(any_port(server.ip())).expect("binding a native UDP client");
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0; 65536];
    let mut replies = Vec::new();
    for datagram in datagrams {
        socket.send_to(datagram, server).unwrap();
        let (n, from) = socket
            .recv_from(&mut buf)
            .expect("waiting for the guest's reply");
        assert_eq!(from, server, "the reply came from the server's address");
        replies.push(buf[..n].to_vec());
    }
    replies
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
