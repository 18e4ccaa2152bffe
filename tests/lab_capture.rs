//! Tests the captures `socklab lab --pcap` writes: they parse, and their
//! TCP payload reassembles to the bytes exchanged (checked by tshark too
//! where it is installed).

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use common::*;
use serde_json::Value;

/// Reassemble each direction of each TCP conversation in a capture:
/// (source, destination) → payload bytes in sequence order.
fn tcp_streams(pcap: &Path) -> BTreeMap<(SocketAddr, SocketAddr), Vec<u8>> {
    let file = std::fs::File::open(pcap).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut segments: BTreeMap<(SocketAddr, SocketAddr), BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.unwrap();
        let sliced = etherparse::SlicedPacket::from_ip(&packet.data).unwrap();
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match sliced.net.unwrap() {
            etherparse::NetSlice::Ipv4(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            etherparse::NetSlice::Ipv6(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            _ => panic!("not IP"),
        };
        if let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport {
            if tcp.payload().is_empty() {
                continue;
            }
            let key = (
                SocketAddr::new(src_ip, tcp.source_port()),
                SocketAddr::new(dst_ip, tcp.destination_port()),
            );
            segments
                .entry(key)
                .or_default()
                .insert(tcp.sequence_number(), tcp.payload().to_vec());
        }
    }
    segments
        .into_iter()
        .map(|(key, by_seq)| {
            let mut stream = Vec::new();
            let mut next = None;
            for (seq, payload) in by_seq {
                if let Some(next) = next {
                    assert_eq!(seq, next, "a gap or overlap in {key:?}");
                }
                next = Some(seq.wrapping_add(payload.len() as u32));
                stream.extend(payload);
            }
            (key, stream)
        })
        .collect()
}

#[test]
fn lab_pcap_reassembles_to_the_bytes_exchanged() {
    let pcap_dir = tempfile::tempdir().unwrap();
    let pcap = pcap_dir.path().join("loss.pcap");
    let pcap_arg = pcap.display().to_string();
    let (done, report, _out) = lab_run(
        &example("tcp-vs-udp-loss.toml"),
        &["--count", "10", "--pcap", &pcap_arg],
    );
    done.assert_code(0);
    assert!(n(&report["captured"]) > 0, "{done}");
    let listening = |world: &str| -> SocketAddr {
        let server = report["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["world"] == world)
            .unwrap();
        server["listening"].as_str().unwrap().parse().unwrap()
    };
    let tcp_server = listening("tcp-server");
    let leg = |transport: &str| -> Value {
        report["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["transport"] == transport)
            .unwrap()["relay_stats"]["legs"][0]
            .clone()
    };
    let tcp_client: SocketAddr = leg("tcp")["client"].as_str().unwrap().parse().unwrap();
    // What the tcp-client sent: each generated message and its newline; the
    // echo server sent the same back.
    let mut sent = Vec::new();
    for message in socklab::experiment::messages::generate(10, 64).unwrap() {
        sent.extend(message);
        sent.push(b'\n');
    }
    let streams = tcp_streams(&pcap);
    // The capture shows the client's real address and the server's listen
    // address, as if the relay were not there.
    assert_eq!(
        streams.get(&(tcp_client, tcp_server)),
        Some(&sent),
        "{streams:?}"
    );
    assert_eq!(streams.get(&(tcp_server, tcp_client)), Some(&sent));
    // And tshark, when it is here (CI installs it), follows the same stream.
    match tshark_follow(&pcap) {
        Some((to_server, to_client)) => {
            assert_eq!(to_server, sent, "tshark's client -> server bytes");
            assert_eq!(to_client, sent, "tshark's server -> client bytes");
        }
        None if std::env::var_os("CI").is_some() => panic!("CI is set but tshark is missing"),
        None => eprintln!("SKIPPED: tshark is not installed; the capture was read in Rust only"),
    }
}

/// `tshark -qz follow,tcp,raw,0`: the first TCP stream's bytes each way, or
/// `None` without tshark.
fn tshark_follow(pcap: &Path) -> Option<(Vec<u8>, Vec<u8>)> {
    let output = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-qz", "follow,tcp,raw,0"])
        .output()
        .ok()?;
    assert!(output.status.success(), "tshark failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let hex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let (mut first, mut second) = (Vec::new(), Vec::new());
    // Lines of hex after the `Node 1:` header; a leading tab marks the
    // second node's (the server's) bytes.
    let body = text.split_once("Node 1:")?.1.split_once('\n')?.1;
    for line in body
        .lines()
        .filter(|l| !l.starts_with('=') && !l.trim().is_empty())
    {
        match line.strip_prefix('\t') {
            Some(h) => second.extend(hex(h.trim())),
            None => first.extend(hex(line.trim())),
        }
    }
    Some((first, second))
}
