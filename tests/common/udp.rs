//! UDP peers and exchanges the UDP tests of both WASI versions share:
//! native `std::net` servers and clients, and each guest against them.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use socklab::exchange::{self, start_server};
use socklab::report::{ExchangeRecord, Expect};
use socklab::roles::Transport;

use super::*;

/// The guest echo server `server` on `ip`, one native client sending three datagrams.
pub async fn guest_server_native_client(server: &str, ip: IpAddr) {
    let datagrams = tricky_datagrams()[..3].to_vec();
    let sessions = datagrams.len() as u64;
    let spec = server_spec(server, any_port(ip), Some(sessions));
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

/// The guest client `client` against a native server on `ip` that answers each
/// datagram reversed.
pub async fn guest_client_native_server(client: &str, ip: IpAddr) {
    let datagrams = tricky_datagrams();
    let (addr, server) = native_udp_server(ip, datagrams.len(), |_, d| {
        Some(d.iter().rev().copied().collect())
    });
    let spec = client_spec(client, &datagrams, 5_000, Expect::Any);
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

/// The guest client `client` against a native server that answers
/// datagrams 0, 2 and 4 of six: the others are `lost` after the timeout,
/// never a hang, and the exchange fails (exit 1).
pub fn client_drops_every_other_reply_reports_lost(client: &str) {
    const SENT: usize = 6;
    // Answers datagrams 0, 2 and 4; 1, 3 and 5 get no reply.
    let (addr, server) = native_udp_server(V4, SENT, |i, d| (i % 2 == 0).then(|| d.to_vec()));
    let to = addr.to_string();
    let mut args = vec!["connect", client, "--to", &to, "--timeout-ms", "300"];
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
