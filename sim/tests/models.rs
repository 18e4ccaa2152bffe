//! The simulated network's own link models on real simulated traffic: a
//! delay distribution that never reorders a flow, corruption the
//! receiver's checksum drops and counts, a queue in bytes that UDP and TCP
//! share, and an MTU that fragments UDP and fits TCP's segments.

use std::net::SocketAddr;
use std::time::Duration;

use socklab_relay::{DirStats, UdpImpairments};
use socklab_sim::time::{sleep, timeout};
use socklab_sim::{
    Distribution, DropCause, EventKind, Link, LinkModels, Node, Sim, TcpStream, spawn,
};

const DEADLINE: Duration = Duration::from_secs(600);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

/// A world of two nodes `a` → `b` whose link `ab` (one direction) is
/// `impair` and `models`; the reverse direction is unimpaired.
fn world(seed: u64, impair: UdpImpairments, models: LinkModels) -> (Sim, Node, Node) {
    let sim = Sim::new(seed);
    let h = sim.handle();
    let (a, b) = (h.add_node("a"), h.add_node("b"));
    let link = Link {
        latency: Duration::from_millis(1),
        impair,
        name: "ab".into(),
        models,
    };
    h.set_link(&a, &b, link);
    (sim, a, b)
}

/// Sends `count` tagged datagrams of `size` bytes from `a` to `b`, `gap`
/// apart; what `b` received, in arrival order, with the simulated time of
/// each arrival, and the link's stats.
fn udp_over(
    (mut sim, a, b): (Sim, Node, Node),
    count: usize,
    size: usize,
    gap: Duration,
) -> (Vec<(Vec<u8>, u64)>, DirStats) {
    let h = sim.handle();
    let got = sim
        .block_on(async move {
            let server = b.udp_bind(addr("10.0.0.2:7")).expect("binds");
            let client = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
            // Read as they come (a receive queue holds 104 KiB), until a
            // quiet second.
            let reader = spawn(async move {
                let mut got = Vec::new();
                while let Ok(Ok((data, _))) =
                    timeout(Duration::from_secs(1), server.recv_from()).await
                {
                    got.push(data);
                }
                got
            });
            for n in 0..count {
                let mut message = format!("#{n:06} ").into_bytes();
                message.resize(size.max(message.len()), b'x');
                client.send_to(&message, addr("10.0.0.2:7")).expect("sent");
                sleep(gap).await;
            }
            reader.await.expect("the reader ran")
        })
        .expect("finishes");
    let arrivals: Vec<u64> = h
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Arrive)
        .map(|e| e.at_micros)
        .collect();
    (
        got.into_iter().zip(arrivals).collect(),
        h.link_stats("ab").to_server,
    )
}

/// Reads `len` bytes from `conn`: up to the length, not to the FIN (a FIN
/// dropped at a full queue once its data was acknowledged was seen not to
/// be sent again: docs/simulated.md, link models).
async fn read_exactly(conn: &TcpStream, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    while out.len() < len {
        let n = conn.read(&mut buf).await.expect("reads");
        assert_ne!(n, 0, "the stream ended early");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn tags(got: &[(Vec<u8>, u64)]) -> Vec<u64> {
    got.iter()
        .map(|(d, _)| String::from_utf8_lossy(&d[1..7]).parse().expect("a tag"))
        .collect()
}

fn jitter(distribution: Option<Distribution>) -> (Vec<u64>, Vec<u64>) {
    let impair = UdpImpairments {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(6),
        ..UdpImpairments::default()
    };
    let models = LinkModels {
        distribution,
        ..LinkModels::default()
    };
    let (got, stats) = udp_over(world(3, impair, models), 300, 64, Duration::from_millis(2));
    assert_eq!(stats.delivered, 300);
    let delays: Vec<u64> = stats.events.iter().map(|e| e.delay_us).collect();
    (tags(&got), delays)
}

#[test]
fn udp_a_delay_distribution_spreads_delays_but_keeps_the_order() {
    let in_order: Vec<u64> = (0..300).collect();
    // The relay's jitter, uniform in [delay, delay + jitter], reorders.
    let (order, _) = jitter(None);
    assert_ne!(
        order, in_order,
        "plain jitter reorders datagrams 2 ms apart"
    );
    for d in [
        Distribution::Uniform,
        Distribution::Normal,
        Distribution::Pareto,
    ] {
        let (order, delays) = jitter(Some(d));
        assert_eq!(order, in_order, "{d:?} keeps the flow's order");
        let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
        let (min, max) = (delays.iter().min().unwrap(), delays.iter().max().unwrap());
        // The link's 1 ms plus the 20 ms mean, and a few ms more where a
        // datagram waits behind a slower one: never less.
        assert!((21_000.0..32_000.0).contains(&mean), "{d:?} mean {mean}");
        assert!(max - min > 5_000, "{d:?} spreads: {min}..{max}");
    }
    // `fixed`: every datagram the same 21 ms.
    let fixed = UdpImpairments {
        delay: Duration::from_millis(20),
        ..UdpImpairments::default()
    };
    let models = LinkModels {
        distribution: Some(Distribution::Fixed),
        ..LinkModels::default()
    };
    let (_, stats) = udp_over(world(3, fixed, models), 50, 64, Duration::from_millis(2));
    assert!(stats.events.iter().all(|e| e.delay_us == 21_000));
}

#[test]
fn udp_corruption_is_dropped_by_the_receivers_checksum_and_counted() {
    let models = LinkModels {
        corrupt: 0.2,
        ..LinkModels::default()
    };
    let w = world(5, UdpImpairments::default(), models);
    let h = w.0.handle();
    let (got, stats) = udp_over(w, 500, 100, Duration::from_millis(1));
    assert!((60..140).contains(&stats.corrupted), "{}", stats.corrupted);
    assert_eq!(
        got.len() as u64 + stats.corrupted,
        500,
        "each is whole or gone"
    );
    assert_eq!(stats.lost, 0, "corruption is not loss");
    for (data, _) in &got {
        assert!(
            data[8..].iter().all(|&b| b == b'x'),
            "no damaged byte delivered"
        );
    }
    let drops = h
        .events()
        .iter()
        .filter(|e| {
            e.kind
                == EventKind::Drop {
                    cause: DropCause::Corrupt,
                }
        })
        .count();
    assert_eq!(drops as u64, stats.corrupted);
}

#[test]
fn udp_a_queue_in_bytes_drops_at_the_tail_behind_the_rate() {
    let impair = UdpImpairments {
        rate: Some(100_000),
        ..UdpImpairments::default()
    };
    let models = LinkModels {
        queue_bytes: Some(5_000),
        ..LinkModels::default()
    };
    // 50 datagrams of 1000 B at once: 5 fit the queue (the first goes on
    // the link at once, so its bytes leave the backlog as they are sent).
    let (got, stats) = udp_over(world(1, impair, models), 50, 1000, Duration::ZERO);
    assert!((5..=6).contains(&got.len()), "{} delivered", got.len());
    assert_eq!(stats.rate_dropped, 50 - got.len() as u64);
    assert_eq!(
        tags(&got),
        (0..got.len() as u64).collect::<Vec<_>>(),
        "the head is kept"
    );
}

#[test]
fn tcp_and_udp_share_the_byte_queue_and_tcp_still_delivers_every_byte() {
    let impair = UdpImpairments {
        rate: Some(200_000),
        ..UdpImpairments::default()
    };
    // Smaller than the 64 KiB window smoltcp sends at once (it has no
    // congestion control), larger than a datagram.
    let models = LinkModels {
        queue_bytes: Some(32_000),
        ..LinkModels::default()
    };
    let (mut sim, a, b) = world(2, impair, models);
    let h = sim.handle();
    let data: Vec<u8> = (0..300_000).map(|i| (i * 7 % 251) as u8).collect();
    let sent = data.clone();
    let (back, udp_got) = sim
        .block_on(timeout(DEADLINE, async move {
            let listener = b.tcp_listen(addr("0.0.0.0:9")).expect("listens");
            let udp_in = b.udp_bind(addr("10.0.0.2:7")).expect("binds");
            let reader = spawn(async move {
                let (conn, _) = listener.accept().await.expect("accepts");
                read_exactly(&conn, 300_000).await
            });
            let conn = a.tcp_connect(addr("10.0.0.2:9")).await.expect("connects");
            let udp_out = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
            let writer = spawn(async move {
                conn.write_all(&sent).await.expect("writes");
                // Kept open until the reader has everything.
                conn
            });
            // While TCP fills the queue: 100 datagrams of 500 B, 10 ms
            // apart, a quarter of the link's rate.
            for n in 0..100 {
                let mut message = format!("#{n:06} ").into_bytes();
                message.resize(500, b'u');
                udp_out.send_to(&message, addr("10.0.0.2:7")).expect("sent");
                sleep(Duration::from_millis(10)).await;
            }
            let back = reader.await.expect("reader ran");
            drop(writer.await.expect("writer ran"));
            let mut got = 0;
            while udp_in.try_recv_from().expect("reads").is_some() {
                got += 1;
            }
            (back, got)
        }))
        .expect("no stall")
        .expect("within the deadline");
    assert_eq!(back, data, "TCP repairs its tail drops");
    let stats = h.link_stats("ab").to_server;
    assert!(stats.rate_dropped > 0, "TCP overflows the queue");
    // Alone, a datagram would take 2.5 ms of the link and 1 ms of latency;
    // behind TCP's bytes it waits, or finds the queue full.
    let udp: Vec<&socklab_relay::Event> = stats
        .events
        .iter()
        .filter(|e| matches!(e.key, socklab_relay::Key::Tag(_)))
        .collect();
    assert_eq!(udp.len(), 100);
    let waited = udp.iter().filter(|e| e.delay_us > 20_000).count();
    let dropped = udp
        .iter()
        .filter(|e| e.fates.contains(&socklab_relay::Fate::RateDropped))
        .count();
    assert!(
        waited + dropped > 0,
        "UDP shares TCP's queue: {udp_got} arrived, none waited"
    );
    assert_eq!(udp_got, 100 - dropped);
    let tcp_drops = h
        .events()
        .iter()
        .filter(|e| {
            e.kind
                == EventKind::Drop {
                    cause: DropCause::LinkQueueFull,
                }
                && e.detail.contains("[")
        })
        .count();
    assert!(tcp_drops > 0, "segments are among the tail drops");
}

#[test]
fn udp_over_the_mtu_crosses_in_fragments_each_lost_on_its_own() {
    let impair = UdpImpairments {
        loss: 0.1,
        ..UdpImpairments::default()
    };
    let models = LinkModels {
        mtu: Some(1280),
        ..LinkModels::default()
    };
    let gap = Duration::from_millis(1);
    let (small, s) = udp_over(world(9, impair.clone(), models), 1000, 1000, gap);
    assert_eq!(s.fragmented, 0, "1000 B fits 1280");
    let (big, b) = udp_over(world(9, impair, models), 1000, 3000, gap);
    assert_eq!(b.fragmented, 1000, "3008 B of UDP in three fragments");
    // 10% per fragment: 1 - 0.9^3 = 27% of three-fragment datagrams.
    let (small_lost, big_lost) = (1000 - small.len(), 1000 - big.len());
    assert!((70..130).contains(&small_lost), "{small_lost}");
    assert!((230..310).contains(&big_lost), "{big_lost}");
    assert_eq!(b.lost as usize, big_lost);
}

#[test]
fn tcp_segments_fit_the_links_mtu() {
    let models = LinkModels {
        mtu: Some(1280),
        ..LinkModels::default()
    };
    let (mut sim, a, b) = world(4, UdpImpairments::default(), models);
    let h = sim.handle();
    h.set_link(
        &b,
        &a,
        Link {
            latency: Duration::from_millis(1),
            name: "ab".into(),
            models,
            ..Link::default()
        },
    );
    let data: Vec<u8> = (0..100_000).map(|i| (i % 253) as u8).collect();
    let sent = data.clone();
    let back = sim
        .block_on(timeout(DEADLINE, async move {
            let listener = b.tcp_listen(addr("0.0.0.0:9")).expect("listens");
            let reader = spawn(async move {
                let (conn, _) = listener.accept().await.expect("accepts");
                conn.read_to_end().await.expect("reads")
            });
            let conn = a.tcp_connect(addr("10.0.0.2:9")).await.expect("connects");
            conn.write_all(&sent).await.expect("writes");
            conn.shutdown();
            reader.await.expect("reader ran")
        }))
        .expect("no stall")
        .expect("within the deadline");
    assert_eq!(back, data);
    let lens: Vec<u32> = h
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Segment)
        .filter_map(|e| {
            e.detail
                .split(" len=")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    let max = lens.iter().max().copied().unwrap_or(0);
    // 1280 - 20 (IPv4) - 20 (TCP) = 1240 bytes of payload at most.
    assert!(max > 1000 && max <= 1240, "largest segment {max} B");
    assert_eq!(h.link_stats("ab").to_server.fragmented, 0);
}

#[test]
fn tcp_corrupted_segments_are_dropped_by_the_checksum_and_sent_again() {
    let models = LinkModels {
        corrupt: 0.05,
        ..LinkModels::default()
    };
    let (mut sim, a, b) = world(8, UdpImpairments::default(), models);
    let h = sim.handle();
    let data: Vec<u8> = (0..200_000).map(|i| (i % 241) as u8).collect();
    let sent = data.clone();
    let back = sim
        .block_on(timeout(DEADLINE, async move {
            let listener = b.tcp_listen(addr("0.0.0.0:9")).expect("listens");
            let reader = spawn(async move {
                let (conn, _) = listener.accept().await.expect("accepts");
                read_exactly(&conn, 200_000).await
            });
            let conn = a.tcp_connect(addr("10.0.0.2:9")).await.expect("connects");
            conn.write_all(&sent).await.expect("writes");
            let out = reader.await.expect("reader ran");
            drop(conn);
            out
        }))
        .expect("no stall")
        .expect("within the deadline");
    assert_eq!(back, data, "every byte, whole and in order");
    let stats = h.link_stats("ab").to_server;
    assert!(stats.corrupted > 0, "some segments were damaged");
    let events = h.events();
    let count = |kind: EventKind| events.iter().filter(|e| e.kind == kind).count();
    let corrupt = EventKind::Drop {
        cause: DropCause::Corrupt,
    };
    assert_eq!(count(corrupt) as u64, stats.corrupted);
    assert!(
        count(EventKind::Retransmit) > 0,
        "TCP sent the damaged ones again"
    );
    assert_eq!(stats.lost, 0);
}
