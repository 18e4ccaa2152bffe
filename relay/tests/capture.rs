//! The pcap capture, read back with `pcap-file` and `etherparse`: addresses
//! are client ↔ server, checksums hold, UDP payloads match, and each TCP
//! direction reassembled by sequence number gives back the exact bytes.

mod common;

use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use common::*;
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use socklab_relay::{Capture, LinkSpec, TcpImpairments, UdpImpairments, start_tcp, start_udp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// One captured packet, as the tests look at it.
#[derive(Debug)]
struct Packet {
    src: SocketAddr,
    dst: SocketAddr,
    /// `None` for UDP.
    tcp: Option<Tcp>,
    payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Tcp {
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
}

/// Writes `capture` to a temporary file and reads it back, checking the
/// link type and every packet's checksums.
fn read_back(capture: &Capture) -> Vec<Packet> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("relay.pcap");
    capture.write_pcap(&path).expect("write pcap");
    let packets = read_pcap(&path);
    assert_eq!(packets.len(), capture.packets());
    assert_eq!(capture.dropped(), 0);
    packets
}

fn read_pcap(path: &Path) -> Vec<Packet> {
    let mut reader = PcapReader::new(File::open(path).expect("open pcap")).expect("pcap header");
    assert_eq!(reader.header().datalink, DataLink::RAW);
    let mut packets = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.expect("pcap record");
        assert_eq!(p.orig_len as usize, p.data.len());
        verify_checksums(&p.data);
        let sliced = SlicedPacket::from_ip(&p.data).expect("an IP packet");
        let (src, dst): (IpAddr, IpAddr) = match sliced.net.expect("an IP header") {
            NetSlice::Ipv4(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            NetSlice::Ipv6(ip) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            other => panic!("not IP: {other:?}"),
        };
        let packet = match sliced.transport.expect("a transport header") {
            TransportSlice::Udp(u) => Packet {
                src: SocketAddr::new(src, u.source_port()),
                dst: SocketAddr::new(dst, u.destination_port()),
                tcp: None,
                payload: u.payload().to_vec(),
            },
            TransportSlice::Tcp(t) => Packet {
                src: SocketAddr::new(src, t.source_port()),
                dst: SocketAddr::new(dst, t.destination_port()),
                tcp: Some(Tcp {
                    seq: t.sequence_number(),
                    ack: t.ack().then(|| t.acknowledgment_number()),
                    syn: t.syn(),
                    fin: t.fin(),
                    rst: t.rst(),
                }),
                payload: t.payload().to_vec(),
            },
            other => panic!("not TCP or UDP: {other:?}"),
        };
        packets.push(packet);
    }
    packets
}

/// Checks the IPv4 header checksum and the TCP/UDP checksum over the
/// pseudo-header, with a one's-complement sum written here (not etherparse's).
fn verify_checksums(ip: &[u8]) {
    let (pseudo, segment) = match ip[0] >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            assert_eq!(sum(&[&ip[..ihl]]), 0xffff, "IPv4 header checksum");
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            let segment = &ip[ihl..total];
            let mut pseudo = ip[12..20].to_vec();
            pseudo.extend([0, ip[9]]);
            pseudo.extend((segment.len() as u16).to_be_bytes());
            (pseudo, segment)
        }
        6 => {
            let segment = &ip[40..];
            let mut pseudo = ip[8..40].to_vec();
            pseudo.extend((segment.len() as u32).to_be_bytes());
            pseudo.extend([0, 0, 0, ip[6]]);
            (pseudo, segment)
        }
        v => panic!("IP version {v}"),
    };
    assert_eq!(sum(&[&pseudo, segment]), 0xffff, "transport checksum");
}

/// The one's-complement sum of 16-bit big-endian words, folded.
fn sum(parts: &[&[u8]]) -> u16 {
    let mut total = 0u32;
    for part in parts {
        for pair in part.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            total += hi | pair.get(1).map_or(0, |&lo| u32::from(lo));
        }
    }
    while total > 0xffff {
        total = (total & 0xffff) + (total >> 16);
    }
    total as u16
}

#[tokio::test]
async fn capture_udp_shows_client_and_server_with_exact_payloads() {
    for bind in [V4, V6] {
        let server = udp_echo(bind).await;
        let capture = Capture::new();
        let mut spec: LinkSpec<UdpImpairments> = spec("udp", 4, bind, server);
        spec.to_server.loss = 0.3;
        spec.capture = Some(capture.clone());
        let relay = start_udp(spec).await.expect("start relay");
        let c = UdpSocket::bind(bind).await.expect("bind client");
        c.connect(relay.addr()).await.expect("connect");
        let client = c.local_addr().expect("client address");
        let sent: Vec<Vec<u8>> = (0..30).map(|i| message(i, 20 + i as usize)).collect();
        for m in &sent {
            c.send(m).await.expect("send");
        }
        let stats = udp_settled(&relay, 30).await;
        relay.stop().await;
        let packets = read_back(&capture);
        let way = |src, dst| -> Vec<Vec<u8>> {
            packets
                .iter()
                .filter(|p| p.src == src && p.dst == dst)
                .map(|p| p.payload.clone())
                .collect()
        };
        let delivered: Vec<Vec<u8>> = sent
            .iter()
            .filter(|m| {
                !stats.to_server.events.iter().any(|e| {
                    e.key == socklab_relay::Key::Tag(tag(m))
                        && e.fates.contains(&socklab_relay::Fate::Lost)
                })
            })
            .cloned()
            .collect();
        assert!(delivered.len() < sent.len(), "seed 4 loses some of 30");
        assert_eq!(way(client, server), delivered, "{bind}: client → server");
        assert_eq!(way(server, client), delivered, "{bind}: server → client");
        assert_eq!(packets.len(), 2 * delivered.len(), "{bind}: nothing else");
        assert!(packets.iter().all(|p| p.tcp.is_none()));
    }
}

/// A server that reads until end of stream, then answers with `answer` and
/// closes.
async fn answering_server(bind: &str, answer: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind(bind).await.expect("bind server");
    let addr = listener.local_addr().expect("server address");
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.expect("read request");
        s.write_all(&answer).await.expect("write answer");
        s.shutdown().await.expect("close");
    });
    addr
}

/// One direction of a TCP conversation: its SYN's sequence number, its data
/// reassembled by sequence number, and its FIN's sequence number.
fn reassemble(packets: &[Packet], src: SocketAddr, dst: SocketAddr) -> (u32, Vec<u8>, Option<u32>) {
    let way: Vec<(&Tcp, &[u8])> = packets
        .iter()
        .filter(|p| p.src == src && p.dst == dst)
        .map(|p| (p.tcp.as_ref().expect("TCP"), p.payload.as_slice()))
        .collect();
    let isn = way.iter().find(|(t, _)| t.syn).expect("a SYN").0.seq;
    let mut data: Vec<(u32, &[u8])> = way
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(t, p)| (t.seq.wrapping_sub(isn + 1), *p))
        .collect();
    data.sort_by_key(|(offset, _)| *offset);
    let mut stream = Vec::new();
    for (offset, payload) in data {
        assert_eq!(offset as usize, stream.len(), "contiguous, no overlap");
        stream.extend_from_slice(payload);
    }
    let fin = way.iter().find(|(t, _)| t.fin).map(|(t, _)| t.seq);
    (isn, stream, fin)
}

#[tokio::test]
async fn capture_tcp_reassembles_each_direction_exactly() {
    for bind in [V4, V6] {
        let request = pattern(20_000);
        let answer: Vec<u8> = pattern(30_000).into_iter().rev().collect();
        let server = answering_server(bind, answer.clone()).await;
        let capture = Capture::new();
        let mut spec: LinkSpec<TcpImpairments> = spec("tcp", 2, bind, server);
        spec.to_server = TcpImpairments {
            loss: 0.2,
            rto: std::time::Duration::from_millis(5),
            slice: Some(1500),
            ..TcpImpairments::default()
        };
        spec.to_client = spec.to_server.clone();
        spec.capture = Some(capture.clone());
        let relay = start_tcp(spec).await.expect("start relay");
        let s = TcpStream::connect(relay.addr()).await.expect("connect");
        let client = s.local_addr().expect("client address");
        assert_eq!(tcp_exchange(s, &request).await, answer);
        let stats = relay.stop().await;
        assert!(stats.to_server.retransmissions + stats.to_client.retransmissions > 0);
        let packets = read_back(&capture);
        assert!(
            packets
                .iter()
                .all(|p| (p.src, p.dst) == (client, server) || (p.src, p.dst) == (server, client))
        );
        // The handshake comes first: SYN, SYN-ACK, ACK.
        let first: Vec<(bool, bool, Option<u32>)> = packets[..3]
            .iter()
            .map(|p| {
                (
                    p.src == client,
                    p.tcp.expect("TCP").syn,
                    p.tcp.expect("TCP").ack,
                )
            })
            .collect();
        let (c_isn, up, c_fin) = reassemble(&packets, client, server);
        let (s_isn, down, s_fin) = reassemble(&packets, server, client);
        assert_eq!(
            first,
            [
                (true, true, None),
                (false, true, Some(c_isn + 1)),
                (true, false, Some(s_isn + 1))
            ]
        );
        assert!(up == request, "{bind}: client → server, {} bytes", up.len());
        assert!(
            down == answer,
            "{bind}: server → client, {} bytes",
            down.len()
        );
        assert_eq!(c_fin, Some(c_isn + 1 + request.len() as u32));
        assert_eq!(s_fin, Some(s_isn + 1 + answer.len() as u32));
        // The last packet acknowledges the client's FIN.
        let last = packets.last().expect("packets").tcp.expect("TCP");
        assert!(last.fin && last.ack == Some(c_isn + 2 + request.len() as u32));
        assert!(packets.iter().all(|p| !p.tcp.expect("TCP").rst));
    }
}

#[tokio::test]
async fn capture_tcp_reset_shows_an_rst_each_way_and_is_shared_with_a_udp_relay() {
    let capture = Capture::new();
    let tcp_server = tcp_echo(V4).await;
    let mut tcp_spec: LinkSpec<TcpImpairments> = spec("reset", 1, V4, tcp_server);
    tcp_spec.to_server.reset_after = Some(100);
    tcp_spec.capture = Some(capture.clone());
    let tcp = start_tcp(tcp_spec).await.expect("start TCP relay");
    let udp_server = udp_echo(V4).await;
    let mut udp_spec: LinkSpec<UdpImpairments> = spec("udp", 1, V4, udp_server);
    udp_spec.capture = Some(capture.clone());
    let udp = start_udp(udp_spec).await.expect("start UDP relay");

    let mut s = TcpStream::connect(tcp.addr()).await.expect("connect");
    let _ = s.write_all(&pattern(500)).await;
    let mut rest = Vec::new();
    assert!(within("the reset", s.read_to_end(&mut rest)).await.is_err());
    until(&tcp, "the reset to be counted", |s| s.resets == 1).await;
    let c = UdpSocket::bind(V4).await.expect("bind client");
    c.send_to(b"over udp", udp.addr()).await.expect("send");
    udp_settled(&udp, 1).await;
    tcp.stop().await;
    udp.stop().await;

    let packets = read_back(&capture);
    let rsts: Vec<&Packet> = packets
        .iter()
        .filter(|p| p.tcp.is_some_and(|t| t.rst))
        .collect();
    assert_eq!(rsts.len(), 2, "{rsts:?}");
    assert_ne!(rsts[0].src, rsts[1].src);
    let udp_payloads: Vec<&[u8]> = packets
        .iter()
        .filter(|p| p.tcp.is_none())
        .map(|p| p.payload.as_slice())
        .collect();
    assert_eq!(udp_payloads, [b"over udp", b"over udp"]);
}

#[tokio::test]
async fn capture_maps_an_ipv4_server_into_an_ipv6_clients_conversation() {
    let server = udp_echo(V4).await;
    let capture = Capture::new();
    let mut spec: LinkSpec<UdpImpairments> = spec("mixed", 1, V6, server);
    spec.capture = Some(capture.clone());
    let relay = start_udp(spec).await.expect("start relay");
    let c = UdpSocket::bind(V6).await.expect("bind client");
    let client = c.local_addr().expect("client address");
    c.send_to(b"across families", relay.addr())
        .await
        .expect("send");
    let mut buf = [0u8; 64];
    let n = within("the echo", c.recv(&mut buf)).await.expect("recv");
    assert_eq!(&buf[..n], b"across families");
    udp_settled(&relay, 1).await;
    let stats = relay.stop().await;
    assert!(stats.legs[0].upstream.is_ipv4(), "{:?}", stats.legs);
    let mapped = SocketAddr::new(
        IpAddr::V6(std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
        server.port(),
    );
    let packets = read_back(&capture);
    let ends: Vec<(SocketAddr, SocketAddr)> = packets.iter().map(|p| (p.src, p.dst)).collect();
    assert_eq!(ends, [(client, mapped), (mapped, client)]);
}
