//! The simulated network through Rust-side sockets: binds, ports, loopback,
//! latency, loss and its statistics, IPv6-only, the event log's determinism.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use socklab_relay::{Direction, Fate, Key, UdpImpairments, draw};
use socklab_sim::time::now_micros;
use socklab_sim::{DropCause, ErrorCode, EventKind, Link, Sim};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

#[test]
fn udp_nodes_have_addresses_and_names_resolve() {
    let sim = Sim::new(1);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    assert_eq!(
        (a.ipv4(), b.ipv4()),
        (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2))
    );
    assert_eq!(
        b.ipv6(),
        "fd00::2".parse::<std::net::Ipv6Addr>().expect("v6")
    );
    let b_addrs = h.resolve(&a, "B").expect("known");
    let expected: [std::net::IpAddr; 2] = [b.ipv4().into(), b.ipv6().into()];
    assert_eq!(b_addrs, expected);
    assert_eq!(h.resolve(&a, "localhost").expect("known").len(), 2);
    assert_eq!(h.resolve(&a, "c"), None);
}

#[test]
fn udp_ephemeral_ports_come_from_the_seed() {
    let port = |seed| {
        let sim = Sim::new(seed);
        let node = sim.handle().add_node("a");
        let socket = node.udp_bind(addr("0.0.0.0:0")).expect("binds");
        socket.local_addr().expect("bound").port()
    };
    assert_eq!(port(7), port(7));
    let ports: Vec<u16> = (0..6).map(port).collect();
    assert!(
        ports.iter().all(|p| (32768..=60999).contains(p)),
        "{ports:?}"
    );
    assert!(ports.windows(2).any(|w| w[0] != w[1]), "{ports:?}");
}

#[test]
fn udp_bind_conflicts_and_foreign_addresses() {
    let sim = Sim::new(1);
    let h = sim.handle();
    let a = h.add_node("a");
    h.add_node("b");
    let _wild = a.udp_bind(addr("0.0.0.0:7")).expect("binds");
    assert_eq!(
        a.udp_bind(addr("10.0.0.1:7")).err(),
        Some(ErrorCode::AddressInUse)
    );
    assert_eq!(
        a.udp_bind(addr("127.0.0.1:7")).err(),
        Some(ErrorCode::AddressInUse)
    );
    // IPv6 sockets are IPv6-only: the port is free in the other family.
    let _v6 = a.udp_bind(addr("[::]:7")).expect("binds");
    assert_eq!(
        a.udp_bind(addr("10.0.0.2:0")).err(),
        Some(ErrorCode::AddressNotBindable)
    );
    // Closing frees the port.
    let once = a.udp_bind(addr("10.0.0.1:8")).expect("binds");
    drop(once);
    a.udp_bind(addr("10.0.0.1:8")).expect("binds again");
}

#[test]
fn udp_loopback_is_per_node_and_immediate() {
    let mut sim = Sim::new(1);
    let h = sim.handle();
    let a = h.add_node("a");
    let b = h.add_node("b");
    let on_a = a.udp_bind(addr("127.0.0.1:9")).expect("binds");
    let on_b = b
        .udp_bind(addr("127.0.0.1:9"))
        .expect("binds: b's own loopback");
    let sender = a.udp_bind(addr("127.0.0.1:0")).expect("binds");
    sender.send_to(b"hi", addr("127.0.0.1:9")).expect("sent");
    let got = on_a
        .try_recv_from()
        .expect("no error")
        .expect("arrived at once");
    assert_eq!(got, (b"hi".to_vec(), sender.local_addr().expect("bound")));
    assert_eq!(on_b.try_recv_from(), Ok(None));
    // A loopback source cannot leave the node.
    assert_eq!(
        sender.send_to(b"x", addr("10.0.0.2:9")),
        Err(ErrorCode::InvalidArgument)
    );
    sim.block_on(async {}).expect("finishes");
}

#[test]
fn udp_datagrams_cross_links_with_their_latency() {
    let mut sim = Sim::new(1);
    let h = sim.handle();
    let (a, b, c) = (h.add_node("a"), h.add_node("b"), h.add_node("c"));
    let link = Link {
        latency: Duration::from_millis(5),
        name: "ab".into(),
        ..Link::default()
    };
    h.set_link(&a, &b, link);
    let at = sim
        .block_on(async move {
            let server = b.udp_bind(addr("0.0.0.0:7")).expect("binds");
            let far = c.udp_bind(addr("0.0.0.0:7")).expect("binds");
            let client = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
            client.send_to(b"ping", addr("10.0.0.2:7")).expect("sent");
            client.send_to(b"ping", addr("10.0.0.3:7")).expect("sent");
            let (_, from) = far.recv_from().await.expect("received");
            let default = now_micros();
            let (data, from_b) = server.recv_from().await.expect("received");
            assert_eq!((data.as_slice(), from), (&b"ping"[..], from_b));
            assert_eq!(from.ip(), std::net::IpAddr::from(a.ipv4()));
            (default, now_micros())
        })
        .expect("finishes");
    assert_eq!(at, (100, 5000));
    let stats = h.link_stats("ab");
    assert_eq!(
        (stats.to_server.received, stats.to_server.delivered),
        (1, 1)
    );
}

/// A lossy link both ways; returns the world's handle after 200 tagged
/// datagrams a → b, each echoed back when it arrives.
fn lossy_exchange(seed: u64) -> socklab_sim::Handle {
    let mut sim = Sim::new(seed);
    let h = sim.handle();
    let (a, b) = (h.add_node("a"), h.add_node("b"));
    let impair = UdpImpairments {
        loss: 0.3,
        jitter: Duration::from_millis(2),
        ..UdpImpairments::default()
    };
    for (from, to) in [(&a, &b), (&b, &a)] {
        let link = Link {
            latency: Duration::from_millis(1),
            impair: impair.clone(),
            name: "lossy".into(),
            models: Default::default(),
        };
        h.set_link(from, to, link);
    }
    sim.block_on(async move {
        let server = b.udp_bind(addr("10.0.0.2:7")).expect("binds");
        let echo = socklab_sim::spawn(async move {
            while let Ok((data, from)) = server.recv_from().await {
                server.send_to(&data, from).expect("echoed");
            }
        });
        let client = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
        for n in 0..200u64 {
            let message = format!("#{n:06} hello");
            client
                .send_to(message.as_bytes(), addr("10.0.0.2:7"))
                .expect("sent");
            socklab_sim::time::sleep(Duration::from_millis(1)).await;
        }
        socklab_sim::time::sleep(Duration::from_millis(50)).await;
        echo.abort();
    })
    .expect("finishes");
    h
}

#[test]
fn udp_loss_follows_the_relay_draw_and_the_stats_add_up() {
    let h = lossy_exchange(42);
    let stats = h.link_stats("lossy");
    let up = &stats.to_server;
    assert_eq!(up.received, 200);
    assert_eq!(up.lost + up.delivered, 200);
    assert!((30..90).contains(&up.lost), "{} lost of 200", up.lost);
    for event in &up.events {
        let Key::Tag(n) = event.key else {
            panic!("tagged datagrams have Tag keys: {:?}", event.key)
        };
        let lost = draw(42, "lossy", Direction::ToServer, Key::Tag(n), "loss") < 0.3;
        assert_eq!(event.fates.contains(&Fate::Lost), lost, "datagram #{n}");
    }
    // Every delivered datagram was echoed; the replies cross the other way.
    assert_eq!(stats.to_client.received, up.delivered);
    let events = h.events();
    let lost = events
        .iter()
        .filter(|e| {
            e.kind
                == EventKind::Drop {
                    cause: DropCause::Loss,
                }
        })
        .count() as u64;
    assert_eq!(lost, up.lost + stats.to_client.lost);
}

#[test]
fn udp_same_seed_same_event_log_bytes() {
    let log = |seed| {
        let mut out = Vec::new();
        lossy_exchange(seed)
            .write_jsonl(&mut out)
            .expect("in memory");
        out
    };
    let first = log(5);
    assert!(!first.is_empty());
    assert_eq!(first, log(5), "one seed, two logs");
    assert_ne!(first, log(6), "another seed, the same log");
}

#[test]
fn udp_no_listener_drops_and_refuses_a_connected_sender() {
    let mut sim = Sim::new(1);
    let h = sim.handle();
    let (a, b) = (h.add_node("a"), h.add_node("b"));
    let refused = sim
        .block_on(async move {
            let v6_only = b.udp_bind(addr("[::]:7")).expect("binds");
            let client = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
            client.connect(addr("10.0.0.2:7")).expect("connects");
            client.send_to(b"x", addr("10.0.0.2:7")).expect("sent");
            let refused = client.recv_from().await;
            assert_eq!(v6_only.try_recv_from(), Ok(None));
            refused
        })
        .expect("finishes");
    assert_eq!(refused, Err(ErrorCode::ConnectionRefused));
    let drop = h
        .events()
        .into_iter()
        .find(|e| matches!(e.kind, EventKind::Drop { .. }))
        .expect("a drop");
    assert_eq!(
        drop.kind,
        EventKind::Drop {
            cause: DropCause::NoListener
        }
    );
    assert_eq!((drop.at_micros, drop.node.as_str()), (100, "a"));
}
