//! TCP on the simulated network through Rust-side sockets: connect, accept
//! and echo on IPv4, IPv6 and loopback; refusals, port conflicts, the
//! backlog; delivery over a lossy link with retransmissions in the log;
//! half-close; back-pressure; byte-identical logs for one seed.

use std::net::SocketAddr;
use std::time::Duration;

use socklab_relay::UdpImpairments;
use socklab_sim::time::timeout;
use socklab_sim::{DropCause, ErrorCode, EventKind, Link, Node, Sim, spawn};

/// Every wait of these tests, in simulated time.
const DEADLINE: Duration = Duration::from_secs(600);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

/// Runs an echo server on `server` at `bind` and sends `payload` from
/// `client` to the address it got (with the server's address `to` if
/// given); the bytes echoed back.
fn echo(
    sim: &mut Sim,
    server: &Node,
    client: &Node,
    bind: &str,
    to: Option<&str>,
    payload: Vec<u8>,
) -> Vec<u8> {
    let listener = server.tcp_listen(addr(bind)).expect("listens");
    let local = listener.local_addr().expect("bound");
    assert_ne!(local.port(), 0);
    let target = to.map_or(local, |ip| {
        SocketAddr::new(ip.parse().expect("ip"), local.port())
    });
    let client = client.clone();
    let run = async move {
        let server = spawn(async move {
            let (conn, _peer) = listener.accept().await.expect("accepts");
            let data = conn.read_to_end().await.expect("reads");
            conn.write_all(&data).await.expect("echoes");
            conn.shutdown();
            // Keep the connection until the client has read everything.
            let _ = conn.read_to_end().await;
        });
        let conn = client.tcp_connect(target).await.expect("connects");
        assert_eq!(conn.peer_addr().expect("peer"), target);
        conn.write_all(&payload).await.expect("writes");
        conn.shutdown();
        let back = conn.read_to_end().await.expect("reads back");
        drop(conn);
        server.await.expect("server ran");
        back
    };
    sim.block_on(timeout(DEADLINE, run))
        .expect("no stall")
        .expect("within the deadline")
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn tcp_echo_between_nodes_on_ipv4_and_ipv6() {
    let mut sim = Sim::new(1);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    let data = pattern(200_000);
    assert_eq!(
        echo(
            &mut sim,
            &b,
            &a,
            "0.0.0.0:0",
            Some("10.0.0.2"),
            data.clone()
        ),
        data
    );
    assert_eq!(
        echo(&mut sim, &b, &a, "[::]:0", Some("fd00::2"), data.clone()),
        data
    );
    let events = h.events();
    for kind in [
        EventKind::Listen,
        EventKind::Connect,
        EventKind::Accept,
        EventKind::Segment,
    ] {
        assert!(events.iter().any(|e| e.kind == kind), "{kind:?} logged");
    }
    let syn = events
        .iter()
        .find(|e| e.detail.contains("[SYN]"))
        .expect("a SYN");
    assert!(
        syn.detail.contains("seq=") && syn.detail.contains("-> 10.0.0.2:"),
        "{syn:?}"
    );
}

#[test]
fn tcp_echo_on_loopback_v4_and_v6() {
    let mut sim = Sim::new(2);
    let a = sim.handle().add_node("a");
    let data = pattern(10_000);
    assert_eq!(
        echo(&mut sim, &a, &a, "127.0.0.1:0", None, data.clone()),
        data
    );
    assert_eq!(echo(&mut sim, &a, &a, "[::1]:0", None, data.clone()), data);
    assert_eq!(
        echo(
            &mut sim,
            &a,
            &a,
            "0.0.0.0:0",
            Some("127.0.0.1"),
            data.clone()
        ),
        data
    );
}

#[test]
fn tcp_connect_to_a_closed_port_is_refused_by_a_reset() {
    let mut sim = Sim::new(3);
    let h = sim.handle();
    let a = h.add_node("a");
    h.add_node("b");
    let refused = sim
        .block_on(timeout(DEADLINE, a.tcp_connect(addr("10.0.0.2:9"))))
        .expect("no stall")
        .expect("within the deadline");
    assert_eq!(refused.err(), Some(ErrorCode::ConnectionRefused));
    assert!(h.events().iter().any(|e| e.kind == EventKind::Reset));
    // An IPv6 listener does not take an IPv4 connection on its port.
    let v6 = h.add_node("c").tcp_listen(addr("[::]:7")).expect("listens");
    let to_v4 = sim
        .block_on(timeout(DEADLINE, a.tcp_connect(addr("10.0.0.3:7"))))
        .expect("no stall")
        .expect("within the deadline");
    assert_eq!(to_v4.err(), Some(ErrorCode::ConnectionRefused));
    drop(v6);
    let nowhere = sim
        .block_on(timeout(DEADLINE, a.tcp_connect(addr("10.9.9.9:7"))))
        .expect("no stall")
        .expect("within the deadline");
    assert_eq!(nowhere.err(), Some(ErrorCode::RemoteUnreachable));
}

#[test]
fn tcp_address_in_use_per_family_and_apart_from_udp() {
    let sim = Sim::new(4);
    let a = sim.handle().add_node("a");
    let l = a.tcp_listen(addr("0.0.0.0:0")).expect("listens");
    let port = l.local_addr().expect("bound").port();
    let same = a.tcp_listen(SocketAddr::new("10.0.0.1".parse().expect("ip"), port));
    assert_eq!(same.err(), Some(ErrorCode::AddressInUse));
    let v6 = a.tcp_listen(addr(&format!("[::]:{port}")));
    assert!(v6.is_ok(), "IPv6 has its own ports");
    let udp = a.udp_bind(addr(&format!("0.0.0.0:{port}")));
    assert!(udp.is_ok(), "UDP has its own ports");
    let foreign = a.tcp_listen(addr("10.0.0.2:0"));
    assert_eq!(foreign.err(), Some(ErrorCode::AddressNotBindable));
}

#[test]
fn tcp_backlog_caps_connections_not_yet_accepted() {
    let mut sim = Sim::new(5);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    let listener = b
        .tcp_listen_backlog(addr("10.0.0.2:0"), Some(2))
        .expect("listens");
    let target = listener.local_addr().expect("bound");
    let run = async move {
        let mut clients = Vec::new();
        for _ in 0..3 {
            let a = a.clone();
            clients.push(spawn(async move {
                timeout(Duration::from_secs(2), a.tcp_connect(target)).await
            }));
        }
        let mut outcomes = Vec::new();
        for c in clients {
            outcomes.push(c.await.expect("ran").map(|r| r.is_ok()));
        }
        (outcomes, listener)
    };
    let (outcomes, listener) = sim.block_on(run).expect("no stall");
    assert_eq!(
        outcomes,
        [Ok(true), Ok(true), Err(socklab_sim::time::Elapsed)],
        "the third waits"
    );
    let drops = h.events();
    assert!(
        drops.iter().any(|e| e.kind
            == EventKind::Drop {
                cause: DropCause::ListenQueueFull
            }),
        "the third SYN was dropped"
    );
    drop(listener);
}

/// Sends 100 kB over a 30 %-loss link; the event log.
fn lossy(seed: u64) -> (Vec<u8>, Vec<u8>, Vec<socklab_sim::LogEvent>) {
    let mut sim = Sim::new(seed);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    for (from, to) in [(&a, &b), (&b, &a)] {
        let impair = UdpImpairments {
            loss: 0.3,
            ..Default::default()
        };
        let link = Link {
            latency: Duration::from_millis(5),
            impair,
            name: "ab".into(),
            models: Default::default(),
        };
        h.set_link(from, to, link);
    }
    let data = pattern(100_000);
    let back = echo(
        &mut sim,
        &b,
        &a,
        "0.0.0.0:0",
        Some("10.0.0.2"),
        data.clone(),
    );
    (data, back, h.events())
}

#[test]
fn tcp_loss_is_repaired_by_retransmission() {
    let (data, back, events) = lossy(6);
    assert_eq!(back, data, "every byte, in order");
    let lost = events
        .iter()
        .filter(|e| {
            e.kind
                == EventKind::Drop {
                    cause: DropCause::Loss,
                }
        })
        .count();
    let again: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Retransmit)
        .collect();
    assert!(
        lost > 0 && !again.is_empty(),
        "{lost} lost, {} retransmitted",
        again.len()
    );
    // A retransmission repeats a sequence number its flow sent before.
    let seq = |d: &str| {
        d.split(" seq=")
            .nth(1)
            .map(|s| s.split(' ').next().map(str::to_owned))
    };
    let first = again[0];
    let flow = first.detail.split(" [").next().expect("a flow");
    assert!(events.iter().any(|e| e.kind == EventKind::Segment
        && e.detail.starts_with(flow)
        && e.at_micros < first.at_micros
        && seq(&e.detail) == seq(&first.detail)));
}

#[test]
fn tcp_same_seed_same_event_log_bytes() {
    let jsonl = |seed| {
        let (_, _, events) = lossy(seed);
        let mut out = Vec::new();
        socklab_sim::log::write_jsonl(&events, &mut out).expect("in memory");
        out
    };
    assert_eq!(jsonl(7), jsonl(7));
    assert_ne!(jsonl(7), jsonl(8));
}

#[test]
fn tcp_half_close_lets_the_other_side_keep_sending() {
    let mut sim = Sim::new(9);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    let listener = b.tcp_listen(addr("[::]:0")).expect("listens");
    let target = SocketAddr::new(
        b.ipv6().into(),
        listener.local_addr().expect("bound").port(),
    );
    let run = async move {
        let server = spawn(async move {
            let (conn, _) = listener.accept().await.expect("accepts");
            assert_eq!(conn.read_to_end().await.expect("reads"), b"question");
            // The client's FIN arrived; this side may still talk.
            conn.write_all(b"answer after your FIN")
                .await
                .expect("writes");
            conn.shutdown();
            let _ = conn.read_to_end().await;
        });
        let conn = a.tcp_connect(target).await.expect("connects");
        conn.write_all(b"question").await.expect("writes");
        conn.shutdown();
        let back = conn.read_to_end().await.expect("reads");
        drop(conn);
        server.await.expect("ran");
        back
    };
    let back = sim
        .block_on(timeout(DEADLINE, run))
        .expect("no stall")
        .expect("in time");
    assert_eq!(back, b"answer after your FIN");
    assert!(h.events().iter().any(|e| e.detail.contains("FIN")));
}

#[test]
fn tcp_back_pressure_when_the_peer_does_not_read() {
    let mut sim = Sim::new(10);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    let listener = b.tcp_listen(addr("0.0.0.0:0")).expect("listens");
    let target = SocketAddr::new(
        b.ipv4().into(),
        listener.local_addr().expect("bound").port(),
    );
    let run = async move {
        let server = spawn(async move { listener.accept().await.expect("accepts") });
        let conn = a.tcp_connect(target).await.expect("connects");
        let (peer, _) = server.await.expect("ran");
        let chunk = vec![1u8; 16 * 1024];
        let mut sent = 0;
        // Nobody reads: the writes stop being taken within a bounded amount.
        while conn.writable().expect("open") {
            sent += chunk.len();
            assert!(sent < 10_000_000, "no back-pressure");
            if timeout(Duration::from_secs(1), conn.write_all(&chunk))
                .await
                .is_err()
            {
                break; // the last chunk waits for room
            }
        }
        assert!(
            !conn.writable().expect("open"),
            "no room while nobody reads"
        );
        // The peer reads one chunk: writing resumes.
        let mut buf = vec![0; 64 * 1024];
        let n = peer.read(&mut buf).await.expect("reads");
        assert!(n > 0);
        socklab_sim::time::sleep(Duration::from_millis(10)).await;
        (sent, conn.writable().expect("open"))
    };
    let (sent, resumed) = sim
        .block_on(timeout(DEADLINE, run))
        .expect("no stall")
        .expect("in time");
    assert!(sent <= 3 * 65_536, "bounded by the two buffers: {sent}");
    assert!(resumed, "room again once the peer read");
}
