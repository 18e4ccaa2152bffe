//! The capture in simulated time, read back with `pcap-file` and
//! `etherparse` (readers that are not ours): a UDP exchange over a lossy,
//! duplicating link in both families and on loopback comes out as one
//! record per datagram sent (per copy when duplicated), with the sockets'
//! addresses, ports and payloads, valid checksums, and the event log's send
//! times as timestamps.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use socklab_relay::UdpImpairments;
use socklab_sim::{EventKind, Link, Sim};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("an address")
}

/// A writer the test keeps a handle on after the simulation took it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("unpoisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One captured packet, as a reader sees it.
#[derive(Debug, PartialEq)]
struct Seen {
    at_micros: u64,
    src: SocketAddr,
    dst: SocketAddr,
    hop_limit: u8,
    payload: Vec<u8>,
}

/// Parses one raw IP packet, checking both checksums.
fn parse(at: Duration, data: &[u8]) -> Seen {
    let sliced = SlicedPacket::from_ip(data).expect("an IP packet");
    let (src, dst, hop_limit): (IpAddr, IpAddr, u8) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum(), "IPv4 checksum");
            (h.source.into(), h.destination.into(), h.time_to_live)
        }
        Some(NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            (
                h.source_addr().into(),
                h.destination_addr().into(),
                h.hop_limit(),
            )
        }
        other => panic!("not IP: {other:?}"),
    };
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP: {data:?}");
    };
    let header = udp.to_header();
    let payload = udp.payload().to_vec();
    let sum = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            header.calc_checksum_ipv4_raw(s.octets(), d.octets(), &payload)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            header.calc_checksum_ipv6_raw(s.octets(), d.octets(), &payload)
        }
        _ => panic!("mixed families"),
    };
    assert_eq!(header.checksum, sum.expect("in range"), "UDP checksum");
    Seen {
        at_micros: at.as_micros() as u64,
        src: SocketAddr::new(src, udp.source_port()),
        dst: SocketAddr::new(dst, udp.destination_port()),
        hop_limit,
        payload,
    }
}

/// Echoes over a lossy, duplicating link in both families, plus two
/// datagrams on loopback; the world's handle and the capture's bytes.
fn captured_exchange(seed: u64) -> (socklab_sim::Handle, Vec<u8>) {
    let mut sim = Sim::new(seed);
    let h = sim.handle();
    let out = Shared::default();
    h.capture_to(out.clone()).expect("capture starts");
    let (a, b) = (h.add_node("a"), h.add_node("b"));
    let impair = UdpImpairments {
        loss: 0.2,
        duplicate: 0.2,
        jitter: Duration::from_millis(2),
        ..UdpImpairments::default()
    };
    for (from, to) in [(&a, &b), (&b, &a)] {
        let name = "wire".into();
        let link = Link {
            latency: Duration::from_millis(1),
            impair: impair.clone(),
            name,
            models: Default::default(),
        };
        h.set_link(from, to, link);
    }
    sim.block_on(async move {
        let mut echoes = Vec::new();
        for listen in ["10.0.0.2:7", "[fd00::2]:7"] {
            let server = b.udp_bind(addr(listen)).expect("binds");
            echoes.push(socklab_sim::spawn(async move {
                while let Ok((data, from)) = server.recv_from().await {
                    server.send_to(&data, from).expect("echoed");
                }
            }));
        }
        let v4 = a.udp_bind(addr("0.0.0.0:0")).expect("binds");
        let v6 = a.udp_bind(addr("[::]:0")).expect("binds");
        let lo = a.udp_bind(addr("127.0.0.1:9")).expect("binds");
        for n in 0..40u64 {
            let message = format!("#{n:03} hello");
            v4.send_to(message.as_bytes(), addr("10.0.0.2:7"))
                .expect("sent");
            v6.send_to(message.as_bytes(), addr("[fd00::2]:7"))
                .expect("sent");
            socklab_sim::time::sleep(Duration::from_millis(1)).await;
        }
        lo.send_to(b"to myself", addr("127.0.0.1:9")).expect("sent");
        v4.send_to(b"to nobody", addr("10.0.0.9:7")).expect("sent");
        socklab_sim::time::sleep(Duration::from_millis(50)).await;
        echoes.iter().for_each(|e| e.abort());
    })
    .expect("finishes");
    let done = h.finish_capture().expect("capture finishes");
    let bytes = out.0.lock().expect("unpoisoned").clone();
    assert_eq!(done.packets as usize, read(&bytes).len());
    (h, bytes)
}

fn read(bytes: &[u8]) -> Vec<Seen> {
    let mut reader = PcapReader::new(bytes).expect("a pcap header");
    assert_eq!(reader.header().datalink, DataLink::RAW);
    let mut seen = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("a whole record");
        assert_eq!(packet.orig_len as usize, packet.data.len());
        seen.push(parse(packet.timestamp, &packet.data));
    }
    seen
}

/// `10.0.0.1:4000 -> 10.0.0.2:7, 5 B` from a send event.
fn route(detail: &str) -> (SocketAddr, SocketAddr, usize) {
    let (addrs, len) = detail.split_once(", ").expect("addresses, size");
    let (src, dst) = addrs.split_once(" -> ").expect("src -> dst");
    let len = len.trim_end_matches(" B").parse().expect("a size");
    (addr(src), addr(dst), len)
}

#[test]
fn udp_capture_holds_every_send_at_its_logged_time_with_valid_headers() {
    let (h, bytes) = captured_exchange(11);
    let seen = read(&bytes);
    let sends: Vec<_> = h
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Send)
        .collect();
    let stats = h.link_stats("wire");
    let duplicated = stats.to_server.duplicated + stats.to_client.duplicated;
    assert!(duplicated > 0 && stats.to_server.lost + stats.to_client.lost > 0);
    assert_eq!(seen.len() as u64, sends.len() as u64 + duplicated);
    // In send order; a duplicated datagram's copies follow each other.
    let mut records = seen.iter().peekable();
    for send in &sends {
        let (src, dst, len) = route(&send.detail);
        let first = records.next().expect("a record per send");
        assert_eq!(
            (first.at_micros, first.src, first.dst, first.payload.len()),
            (send.at_micros, src, dst, len),
            "{send:?}"
        );
        assert_eq!(first.hop_limit, 64);
        while records.peek() == Some(&first) {
            records.next();
        }
    }
    assert!(records.next().is_none());
    let payload = |p: &[u8]| seen.iter().filter(|s| s.payload == p).count();
    assert_eq!(payload(b"to myself"), 1, "loopback is captured");
    assert_eq!(payload(b"to nobody"), 1, "a send to no node is captured");
    assert!(seen.iter().any(|s| s.src.is_ipv6()) && seen.iter().any(|s| s.src.is_ipv4()));
}

#[test]
fn udp_capture_repeats_byte_for_byte_and_follows_the_seed() {
    let (_, once) = captured_exchange(3);
    let (_, again) = captured_exchange(3);
    assert!(once == again, "one seed, two captures");
    let (_, other) = captured_exchange(4);
    assert!(once != other, "another seed draws other fates");
}

#[test]
fn udp_capture_refuses_a_second_start_and_a_finish_without_start() {
    let sim = Sim::new(1);
    let h = sim.handle();
    assert!(h.finish_capture().is_err());
    h.capture_to(Shared::default()).expect("starts");
    assert!(h.capture_to(Shared::default()).is_err());
    assert_eq!(h.finish_capture().expect("finishes").packets, 0);
}
