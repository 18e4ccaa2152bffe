//! The UDP relay between a native client and a native echo server.

mod common;

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use socklab_relay::{Fate, Key, LinkSpec, LinkStats, Relay, UdpImpairments, start_udp};
use tokio::net::UdpSocket;

/// A UDP link with no impairment from `bind` to `server`.
fn link(name: &str, seed: u64, bind: &str, server: SocketAddr) -> LinkSpec<UdpImpairments> {
    spec(name, seed, bind, server)
}

/// A client socket of the relay's family.
async fn client(relay: &Relay) -> UdpSocket {
    let bind = if relay.addr().is_ipv4() { V4 } else { V6 };
    let c = UdpSocket::bind(bind).await.expect("bind client");
    c.connect(relay.addr()).await.expect("connect client");
    c
}

/// Sends messages `#0..#n` (64 bytes each), waits for the relay to settle,
/// and returns the tags the client got back (as received, in order) with
/// the final stats.
async fn send_and_collect(relay: &Relay, n: u64) -> (Vec<u64>, LinkStats) {
    let c = client(relay).await;
    for i in 0..n {
        c.send(&message(i, 64)).await.expect("send");
    }
    let stats = udp_settled(relay, n).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 128];
    for _ in 0..stats.to_client.delivered {
        let len = within("an echoed datagram", c.recv(&mut buf))
            .await
            .expect("recv");
        got.push(tag(&buf[..len]));
    }
    // Everything delivered was counted before settling: nothing more comes.
    assert_eq!(
        c.try_recv(&mut buf).map_err(|e| e.kind()),
        Err(io::ErrorKind::WouldBlock)
    );
    (got, stats)
}

/// The tags whose events in either direction say `fate`.
fn tags_with(stats: &LinkStats, fate: Fate) -> BTreeSet<u64> {
    [&stats.to_server, &stats.to_client]
        .iter()
        .flat_map(|d| &d.events)
        .filter(|e| e.fates.contains(&fate))
        .map(|e| match e.key {
            Key::Tag(t) => t,
            other => panic!("lab messages are keyed by tag, not {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn udp_unimpaired_echoes_everything_ipv4_and_ipv6() {
    for bind in [V4, V6] {
        let server = udp_echo(bind).await;
        let relay = start_udp(link("plain", 1, bind, server))
            .await
            .expect("start relay");
        let (got, stats) = send_and_collect(&relay, 50).await;
        assert_eq!(got, (0..50).collect::<Vec<_>>(), "{bind}");
        assert_eq!(stats.to_server.delivered, 50);
        assert_eq!(stats.to_client.delivered_bytes, 50 * 64);
        assert_eq!(stats.legs.len(), 1);
        let leg = &stats.legs[0];
        assert_eq!((leg.relay, leg.server), (relay.addr(), server));
        assert_ne!(leg.upstream, leg.relay);
        assert_eq!(leg.upstream.is_ipv4(), bind == V4);
        relay.stop().await;
    }
}

#[tokio::test]
async fn udp_loss_misses_what_stats_count_and_the_seed_decides() {
    async fn run(seed: u64) -> (BTreeSet<u64>, LinkStats) {
        let server = udp_echo(V4).await;
        let mut spec = link("lossy", seed, V4, server);
        spec.to_server = UdpImpairments {
            loss: 0.3,
            ..UdpImpairments::default()
        };
        spec.to_client = spec.to_server.clone();
        let relay = start_udp(spec).await.expect("start relay");
        let (got, stats) = send_and_collect(&relay, 200).await;
        let missing: BTreeSet<u64> = (0..200).filter(|t| !got.contains(t)).collect();
        relay.stop().await;
        (missing, stats)
    }
    let (missing, stats) = run(7).await;
    assert_eq!(
        missing.len() as u64,
        stats.to_server.lost + stats.to_client.lost
    );
    assert_eq!(missing, tags_with(&stats, Fate::Lost));
    // 30% each way loses about half; far from none and from all.
    assert!((50..150).contains(&missing.len()), "{}", missing.len());
    let (again, _) = run(7).await;
    assert_eq!(again, missing, "same seed, same losses");
    let (other, _) = run(8).await;
    assert_ne!(other, missing, "another seed, other losses");
}

#[tokio::test]
async fn udp_duplicate_delivers_counted_extra_copies() {
    let server = udp_echo(V4).await;
    let mut spec = link("dup", 3, V4, server);
    spec.to_server.duplicate = 0.5;
    let relay = start_udp(spec).await.expect("start relay");
    let (got, stats) = send_and_collect(&relay, 100).await;
    assert!(
        stats.to_server.duplicated > 10,
        "{:?}",
        stats.to_server.duplicated
    );
    assert_eq!(got.len() as u64, 100 + stats.to_server.duplicated);
    let distinct: BTreeSet<u64> = got.iter().copied().collect();
    assert_eq!(distinct.len(), 100);
    assert_eq!(
        tags_with(&stats, Fate::Duplicated).len() as u64,
        stats.to_server.duplicated
    );
}

#[tokio::test]
async fn udp_reorder_lets_a_later_datagram_overtake() {
    let server = udp_echo(V4).await;
    let mut spec = link("reorder", 5, V4, server);
    spec.to_server.reorder = 0.5;
    spec.to_server.reorder_delay = Duration::from_secs(2);
    let relay = start_udp(spec).await.expect("start relay");
    let (got, stats) = send_and_collect(&relay, 10).await;
    let held = tags_with(&stats, Fate::Reordered);
    assert_eq!(held.len() as u64, stats.to_server.reordered);
    let first_held = *held.first().expect("seed 5 holds some of 10 back");
    let overtaker = (first_held + 1..10)
        .find(|t| !held.contains(t))
        .expect("seed 5 holds back fewer than all later ones");
    let pos = |t: u64| got.iter().position(|&g| g == t).expect("every tag arrives");
    assert!(
        pos(overtaker) < pos(first_held),
        "#{overtaker} should overtake #{first_held}: {got:?}"
    );
}

#[tokio::test]
async fn udp_delay_and_jitter_delay_at_least_the_delay() {
    let server = udp_echo(V4).await;
    let delay = Duration::from_millis(80);
    let jitter = Duration::from_millis(40);
    let mut spec = link("slow", 9, V4, server);
    spec.to_server.delay = delay;
    spec.to_server.jitter = jitter;
    let relay = start_udp(spec).await.expect("start relay");
    let c = client(&relay).await;
    let mut buf = [0u8; 128];
    for i in 0..5 {
        let sent = Instant::now();
        c.send(&message(i, 32)).await.expect("send");
        within("an echo", c.recv(&mut buf)).await.expect("recv");
        assert!(sent.elapsed() >= delay, "round trip {:?}", sent.elapsed());
    }
    let stats = relay.stop().await;
    let delays: BTreeSet<u64> = stats.to_server.events.iter().map(|e| e.delay_us).collect();
    assert!(
        delays.iter().all(|&d| (80_000..=120_000).contains(&d)),
        "{delays:?}"
    );
    assert!(delays.len() > 1, "jitter varies the delay: {delays:?}");
}

#[tokio::test]
async fn udp_rate_limit_drops_beyond_the_queue() {
    let server = udp_echo(V4).await;
    let mut spec = link("narrow", 1, V4, server);
    spec.to_server.rate = Some(10_000);
    spec.to_server.queue_limit = 4;
    let relay = start_udp(spec).await.expect("start relay");
    let c = client(&relay).await;
    let started = Instant::now();
    for i in 0..40 {
        c.send(&message(i, 1000)).await.expect("send");
    }
    let stats = udp_settled(&relay, 40).await;
    let s = &stats.to_server;
    assert!(s.rate_dropped > 0, "{s:?}");
    assert_eq!(s.delivered + s.rate_dropped, 40);
    let mut buf = vec![0u8; 2048];
    for _ in 0..stats.to_client.delivered {
        within("an echo", c.recv(&mut buf)).await.expect("recv");
    }
    // 1000 bytes at 10 000 B/s take 100 ms each, one after another.
    let paced = Duration::from_millis(100) * s.delivered as u32;
    assert!(
        started.elapsed() >= paced,
        "{:?} < {paced:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn udp_nonsense_impairments_are_refused() {
    let server = udp_echo(V4).await;
    let mut spec = link("bad", 1, V4, server);
    spec.to_client.loss = 1.5;
    let err = start_udp(spec).await.expect_err("loss 1.5 is refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("to_client"), "{err}");
}

#[tokio::test]
async fn udp_stop_drops_what_is_still_queued() {
    let server = udp_echo(V4).await;
    let mut spec = link("stopped", 1, V4, server);
    spec.to_server.delay = Duration::from_secs(30);
    let relay = start_udp(spec).await.expect("start relay");
    let c = client(&relay).await;
    for i in 0..3 {
        c.send(&message(i, 32)).await.expect("send");
    }
    until(&relay, "three datagrams queued", |s| {
        s.to_server.pending == 3
    })
    .await;
    let stats = relay.stop().await;
    assert_eq!((stats.to_server.delivered, stats.to_server.pending), (0, 3));
}
