//! Tests TCP on the simulated network as Wireshark would read it: the
//! capture of `examples/sim/tcp-vs-udp-loss.toml` holds real TCP segments
//! with valid checksums, the lost ones sent again, and each direction's
//! bytes, put back in sequence order, are exactly the client's messages;
//! the capture repeats byte for byte. The run is made inside `unshare -n`
//! where the machine allows it.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use common::*;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};

/// One TCP segment of the capture: its flow, sequence number, flags and
/// payload; `checksum_ok` once recomputed over the IP pseudo-header.
struct Segment {
    flow: (SocketAddr, SocketAddr),
    seq: u32,
    syn: bool,
    payload: Vec<u8>,
    checksum_ok: bool,
}

/// The TCP segments of the pcap at `path` (UDP records are skipped).
fn tcp_segments(path: &Path) -> Vec<Segment> {
    let file = std::fs::File::open(path).expect("the capture exists");
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap header");
    let mut segments = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("a whole record");
        let sliced = SlicedPacket::from_ip(&packet.data).expect("an IP packet");
        let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
            continue;
        };
        let (header, payload) = (tcp.to_header(), tcp.payload());
        let (src, dst, sum): (IpAddr, IpAddr, _) = match &sliced.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                let (s, d) = (h.source(), h.destination());
                (
                    s.into(),
                    d.into(),
                    header.calc_checksum_ipv4_raw(s, d, payload),
                )
            }
            Some(NetSlice::Ipv6(ip)) => {
                let h = ip.header();
                let (s, d) = (h.source(), h.destination());
                (
                    s.into(),
                    d.into(),
                    header.calc_checksum_ipv6_raw(s, d, payload),
                )
            }
            other => panic!("not IP: {other:?}"),
        };
        segments.push(Segment {
            flow: (
                SocketAddr::new(src, tcp.source_port()),
                SocketAddr::new(dst, tcp.destination_port()),
            ),
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            payload: payload.to_vec(),
            checksum_ok: sum.is_ok_and(|s| s == tcp.checksum()),
        });
    }
    segments
}

#[test]
fn simulated_tcp_capture_shows_retransmissions_and_delivers_every_byte_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let capture = |name: &str| {
        let (out, pcap) = (
            dir.path().join(name),
            dir.path().join(format!("{name}.pcap")),
        );
        let file = example("sim/tcp-vs-udp-loss.toml").display().to_string();
        let (out_arg, pcap_arg) = (out.display().to_string(), pcap.display().to_string());
        let args = [
            "lab", &file, "--out", &out_arg, "--pcap", &pcap_arg, "--count", "10",
        ];
        let done = socklab_offline(&args).finish();
        done.assert_code(0);
        (done, pcap)
    };
    let (done, pcap) = capture("one");
    let segments = tcp_segments(&pcap);
    assert!(!segments.is_empty(), "TCP segments in the capture: {done}");
    assert!(
        segments.iter().all(|s| s.checksum_ok),
        "every checksum holds"
    );
    // A retransmission: the same flow, sequence number and flags again.
    let mut seen = BTreeMap::new();
    for s in &segments {
        *seen
            .entry((s.flow, s.seq, s.syn, s.payload.len()))
            .or_insert(0) += 1;
    }
    assert!(
        seen.values().any(|&n| n > 1),
        "30% loss makes TCP send something again: {done}"
    );
    // Each direction's data, byte by byte at its offset from the flow's SYN
    // (so repeats and re-cut segments fall on the bytes they repeat), is
    // the ten messages (64 bytes and a newline each), numbered 1 to 10.
    let syns: BTreeMap<_, u32> = segments
        .iter()
        .filter(|s| s.syn)
        .map(|s| (s.flow, s.seq))
        .collect();
    let mut flows: BTreeMap<_, BTreeMap<u32, u8>> = BTreeMap::new();
    for s in segments.iter().filter(|s| !s.payload.is_empty()) {
        let start = s.seq.wrapping_sub(syns[&s.flow]).wrapping_sub(1);
        let bytes = flows.entry(s.flow).or_default();
        for (i, &b) in s.payload.iter().enumerate() {
            bytes.insert(start + i as u32, b);
        }
    }
    assert_eq!(flows.len(), 2, "one flow each way: {done}");
    for (flow, bytes) in &flows {
        assert_eq!(bytes.len(), 10 * 65, "{flow:?}: no gap and no extra byte");
        let stream: Vec<u8> = bytes.values().copied().collect();
        let lines: Vec<&[u8]> = stream
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let seqs: Vec<u64> = lines.iter().map(|l| seq(l)).collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "{flow:?}: {done}");
        assert!(lines.iter().all(|l| l.len() == 64), "{flow:?}: {done}");
    }
    let (_, again) = capture("two");
    assert!(
        std::fs::read(&pcap).unwrap() == std::fs::read(&again).unwrap(),
        "the capture repeats byte for byte for the seed"
    );
}
