//! The TCP relay between native clients and native servers.

mod common;

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use socklab_relay::tcp::TCP_QUEUE_BYTES;
use socklab_relay::{Capture, Fate, Key, LinkSpec, LinkStats, TcpImpairments, start_tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP link with no impairment from `bind` to `server`.
fn link(name: &str, seed: u64, bind: &str, server: SocketAddr) -> LinkSpec<TcpImpairments> {
    spec(name, seed, bind, server)
}

async fn connect(addr: SocketAddr) -> TcpStream {
    within("connecting to the relay", TcpStream::connect(addr))
        .await
        .expect("connect to relay")
}

/// The keys of segments with a retransmission, in both directions.
fn retransmitted(stats: &LinkStats) -> BTreeSet<(&'static str, u64)> {
    [
        ("to_server", &stats.to_server),
        ("to_client", &stats.to_client),
    ]
    .into_iter()
    .flat_map(|(dir, d)| d.events.iter().map(move |e| (dir, e)))
    .filter(|(_, e)| {
        e.fates
            .iter()
            .any(|f| matches!(f, Fate::Retransmitted { .. }))
    })
    .map(|(dir, e)| match e.key {
        Key::Segment { offset, .. } => (dir, offset),
        other => panic!("TCP segments are keyed by offset, not {other:?}"),
    })
    .collect()
}

#[tokio::test]
async fn tcp_unimpaired_passes_a_megabyte_exactly_with_half_close() {
    for bind in [V4, V6] {
        let server = tcp_echo(bind).await;
        let relay = start_tcp(link("plain", 1, bind, server))
            .await
            .expect("start relay");
        let data = pattern(1 << 20);
        let s = connect(relay.addr()).await;
        let client = s.local_addr().expect("client address");
        let back = tcp_exchange(s, &data).await;
        assert!(
            back == data,
            "{bind}: {} bytes back of {}",
            back.len(),
            data.len()
        );
        let stats = until(&relay, "both directions delivered", |s| {
            s.to_client.delivered_bytes == 1 << 20
        })
        .await;
        assert_eq!(stats.to_server.delivered_bytes, 1 << 20);
        assert_eq!(stats.to_server.lost + stats.to_client.lost, 0);
        assert_eq!(stats.legs.len(), 1);
        let leg = &stats.legs[0];
        assert_eq!(
            (leg.client, leg.relay, leg.server),
            (client, relay.addr(), server)
        );
        assert_eq!(leg.upstream.is_ipv4(), bind == V4);
        relay.stop().await;
    }
}

#[tokio::test]
async fn tcp_latency_adds_at_least_the_latency() {
    let server = tcp_echo(V4).await;
    let latency = Duration::from_millis(100);
    let mut spec = link("slow", 1, V4, server);
    spec.to_server.latency = latency;
    spec.to_server.jitter = Duration::from_millis(20);
    let relay = start_tcp(spec).await.expect("start relay");
    let mut s = connect(relay.addr()).await;
    for i in 0..3 {
        let sent = Instant::now();
        let msg = message(i, 40);
        assert_eq!(tcp_ping(&mut s, &msg).await, msg);
        assert!(sent.elapsed() >= latency, "round trip {:?}", sent.elapsed());
    }
}

#[tokio::test]
async fn tcp_loss_still_delivers_every_byte_in_order() {
    let server = tcp_echo(V4).await;
    let mut spec = link("lossy", 11, V4, server);
    spec.to_server = TcpImpairments {
        loss: 0.3,
        rto: Duration::from_millis(5),
        slice: Some(1000),
        ..TcpImpairments::default()
    };
    spec.to_client = spec.to_server.clone();
    let relay = start_tcp(spec).await.expect("start relay");
    let data = pattern(60_000);
    let back = tcp_exchange(connect(relay.addr()).await, &data).await;
    assert!(back == data, "{} bytes back of {}", back.len(), data.len());
    let stats = relay.stop().await;
    for d in [&stats.to_server, &stats.to_client] {
        assert!(d.retransmissions > 0, "{d:?}");
        assert_eq!(d.lost, d.retransmissions);
        assert_eq!(d.delivered_bytes, 60_000);
        assert_eq!(d.delivered, d.received);
    }
}

#[tokio::test]
async fn tcp_reset_after_resets_both_sides_after_n_bytes() {
    // A sink server: reads until the stream ends and reports how.
    let listener = TcpListener::bind(V4).await.expect("bind sink");
    let server = listener.local_addr().expect("sink address");
    let sink = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        let end = s.read_to_end(&mut got).await;
        (got.len(), end.map_err(|e| e.kind()))
    });
    let mut spec = link("reset", 1, V4, server);
    spec.to_server.reset_after = Some(1000);
    let relay = start_tcp(spec).await.expect("start relay");
    let mut s = connect(relay.addr()).await;
    // The write may itself fail once the reset has come back.
    let _ = s.write_all(&pattern(5000)).await;
    let mut rest = Vec::new();
    let client_end = within("the client's reset", s.read_to_end(&mut rest)).await;
    assert_eq!(
        client_end.map_err(|e| e.kind()),
        Err(io::ErrorKind::ConnectionReset)
    );
    let (server_got, server_end) = within("the server's reset", sink).await.expect("sink");
    assert_eq!(server_end, Err(io::ErrorKind::ConnectionReset));
    assert!(server_got <= 1000, "the server read {server_got} bytes");
    let stats = relay.stop().await;
    assert_eq!(stats.resets, 1);
    assert_eq!(stats.to_server.delivered_bytes, 1000);
    let last = stats.to_server.events.last().expect("segments");
    assert!(last.fates.contains(&Fate::Reset), "{last:?}");
}

#[tokio::test]
async fn tcp_slice_cuts_writes_into_small_segments() {
    let server = tcp_echo(V4).await;
    let capture = Capture::new();
    let mut spec = link("sliced", 1, V4, server);
    spec.to_server.slice = Some(100);
    spec.capture = Some(capture.clone());
    let relay = start_tcp(spec).await.expect("start relay");
    let data = pattern(2000);
    let back = tcp_exchange(connect(relay.addr()).await, &data).await;
    assert!(back == data);
    let stats = relay.stop().await;
    let sizes: Vec<u64> = stats.to_server.events.iter().map(|e| e.bytes).collect();
    assert!(sizes.len() >= 20, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    assert_eq!(stats.to_server.delivered, sizes.len() as u64);
    // The capture shows the same cut: every client → server segment is
    // small, while the unsliced answer is not cut that way.
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("sliced.pcap");
    capture.write_pcap(&path).expect("write pcap");
    let mut reader = pcap_file::pcap::PcapReader::new(std::fs::File::open(&path).expect("open"))
        .expect("pcap header");
    let mut up = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.expect("record");
        let sliced = etherparse::SlicedPacket::from_ip(&p.data).expect("IP");
        if let Some(etherparse::TransportSlice::Tcp(t)) = sliced.transport
            && t.destination_port() == server.port()
            && !t.payload().is_empty()
        {
            up.push(t.payload().len());
        }
    }
    assert_eq!(up.len(), sizes.len(), "{up:?}");
    assert!(up.iter().all(|&n| n <= 100), "{up:?}");
}

#[tokio::test]
async fn tcp_stall_holds_the_rest_back_for_at_least_stall_for() {
    let server = tcp_echo(V4).await;
    let stall = Duration::from_millis(300);
    let mut spec = link("stall", 1, V4, server);
    spec.to_server.stall_after = Some(100);
    spec.to_server.stall_for = stall;
    let relay = start_tcp(spec).await.expect("start relay");
    let mut s = connect(relay.addr()).await;
    let first = message(0, 100);
    assert_eq!(tcp_ping(&mut s, &first).await, first);
    let sent = Instant::now();
    let second = message(1, 100);
    assert_eq!(tcp_ping(&mut s, &second).await, second);
    assert!(sent.elapsed() >= stall, "{:?}", sent.elapsed());
    let stats = relay.stop().await;
    assert_eq!(stats.to_server.stalls, 1);
}

#[tokio::test]
async fn tcp_same_seed_loses_the_same_segments_for_a_ping_pong_sender() {
    async fn run(seed: u64) -> BTreeSet<(&'static str, u64)> {
        let server = tcp_echo(V4).await;
        let mut spec = link("pingpong", seed, V4, server);
        spec.to_server = TcpImpairments {
            loss: 0.3,
            rto: Duration::from_millis(5),
            ..TcpImpairments::default()
        };
        spec.to_client = spec.to_server.clone();
        let relay = start_tcp(spec).await.expect("start relay");
        let mut s = connect(relay.addr()).await;
        for i in 0..30 {
            let msg = message(i, 100);
            assert_eq!(tcp_ping(&mut s, &msg).await, msg);
        }
        retransmitted(&relay.stop().await)
    }
    let lost = run(21).await;
    assert!(!lost.is_empty());
    assert_eq!(run(21).await, lost, "same seed, same lost segments");
    assert_ne!(run(22).await, lost, "another seed, other lost segments");
}

#[tokio::test]
async fn tcp_unreachable_server_resets_the_client() {
    // A port that was just free: nothing listens there any more.
    let closed = TcpListener::bind(V4)
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let relay = start_tcp(link("nowhere", 1, V4, closed))
        .await
        .expect("start relay");
    let mut s = connect(relay.addr()).await;
    let mut buf = [0u8; 16];
    let end = within("the client's reset", s.read(&mut buf)).await;
    assert_eq!(
        end.map_err(|e| e.kind()),
        Err(io::ErrorKind::ConnectionReset)
    );
    assert_eq!(relay.stop().await.connect_failures, 1);
}

#[tokio::test]
async fn tcp_relay_stops_reading_when_its_queue_is_full() {
    // A server that accepts and never reads: everything piles up in front of it.
    let listener = TcpListener::bind(V4).await.expect("bind");
    let server = listener.local_addr().expect("server address");
    let held = tokio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
    let relay = start_tcp(link("full", 1, V4, server))
        .await
        .expect("start relay");
    let mut s = connect(relay.addr()).await;
    // Far more than the kernel buffers and the relay's queue together hold.
    let writer = tokio::spawn(async move {
        let block = pattern(1 << 20);
        for _ in 0..64 {
            if s.write_all(&block).await.is_err() {
                break;
            }
        }
    });
    let queued = |s: &LinkStats| s.to_server.received_bytes - s.to_server.delivered_bytes;
    let limit = TCP_QUEUE_BYTES as u64;
    until(&relay, "the relay's queue to fill", |s| {
        queued(s) >= limit - 32 * 1024
    })
    .await;
    for _ in 0..50 {
        let stats = relay.stats();
        assert!(queued(&stats) <= limit, "{} bytes queued", queued(&stats));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!writer.is_finished(), "the client is held back");
    writer.abort();
    relay.stop().await;
    drop(held);
}
