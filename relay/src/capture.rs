//! A pcap capture of what relays delivered, drawn as if each relay were
//! transparent: the packets go between the client's address and the
//! server's, so Wireshark shows one conversation per UDP client or TCP
//! connection.
//!
//! The file is classic pcap (magic `0xa1b2c3d4`, microsecond timestamps,
//! version 2.4) with link type `LINKTYPE_RAW` (101): each record is a bare
//! IPv4 or IPv6 packet, no Ethernet header. When the client and the server
//! are of different families, the IPv4 one is written as an IPv4-mapped IPv6
//! address (`::ffff:a.b.c.d`) so a conversation has one family.
//!
//! The writer is the 24-byte file header and a 16-byte header per record,
//! written here rather than through a crate; the tests read the files back
//! with the `pcap-file` crate, so a reader that is not ours checks it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep};

/// Most packet bytes a capture keeps by default (256 MiB).
pub const DEFAULT_CAPTURE_LIMIT: usize = 256 << 20;

/// TTL / hop limit of the synthesised packets.
const HOPS: u8 = 64;
/// The TCP window advertised in synthesised segments (it means nothing here).
const WINDOW: u16 = 65_535;

/// Packets recorded by one or more relays, in the order delivered. Clones
/// share the same packets, so several relays can record into one capture.
#[derive(Clone, Debug)]
pub struct Capture {
    inner: Arc<Mutex<Packets>>,
}

#[derive(Debug)]
struct Packets {
    /// `(time since the Unix epoch, IP packet)`.
    list: Vec<(Duration, Vec<u8>)>,
    /// Bytes held in `list`.
    bytes: usize,
    /// Most bytes `list` may hold.
    limit: usize,
    /// Packets not kept because of `limit`, or that could not be built.
    dropped: u64,
}

impl Default for Capture {
    fn default() -> Self {
        Capture::new()
    }
}

impl Capture {
    /// An empty capture that keeps up to [`DEFAULT_CAPTURE_LIMIT`] bytes of
    /// packets.
    pub fn new() -> Capture {
        Capture::with_limit(DEFAULT_CAPTURE_LIMIT)
    }

    /// An empty capture that keeps up to `limit` bytes of packets; packets
    /// beyond it are counted in [`Capture::dropped`] instead.
    pub fn with_limit(limit: usize) -> Capture {
        Capture {
            inner: Arc::new(Mutex::new(Packets {
                list: Vec::new(),
                bytes: 0,
                limit,
                dropped: 0,
            })),
        }
    }

    /// Writes every packet recorded so far to `path` as a pcap file,
    /// replacing it.
    pub fn write_pcap(&self, path: &Path) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        write_pcap_header(&mut out)?;
        self.write_pcap_packets(&mut out)?;
        out.flush()
    }

    /// Write every packet kept so far as pcap records, after a header
    /// [`write_pcap_header`] wrote (so a caller can write the header, and
    /// find out that its file cannot be written, before anything runs).
    pub fn write_pcap_packets(&self, out: &mut impl Write) -> io::Result<()> {
        for (at, packet) in &self.lock().list {
            write_pcap_record(out, *at, packet)?;
        }
        Ok(())
    }

    /// How many packets have been recorded.
    pub fn packets(&self) -> usize {
        self.lock().list.len()
    }

    /// How many packets were not recorded: over the byte limit, or too large
    /// for an IP packet.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    fn lock(&self) -> MutexGuard<'_, Packets> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a packet built by `build` from the (possibly mapped) source
    /// and destination, timestamped now.
    fn record(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        build: impl FnOnce(PacketBuilderStep<IpHeaders>, u16, u16, &mut Vec<u8>) -> bool,
    ) {
        let ip = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), HOPS),
            (s, d) => PacketBuilder::ipv6(v6(s), v6(d), HOPS),
        };
        let mut packet = Vec::with_capacity(payload.len() + 60);
        let built = build(ip, src.port(), dst.port(), &mut packet);
        let mut p = self.lock();
        if !built || p.bytes + packet.len() > p.limit {
            p.dropped += 1;
            return;
        }
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        p.bytes += packet.len();
        p.list.push((at, packet));
    }

    /// Records a UDP datagram from `src` to `dst`.
    pub(crate) fn udp(&self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        self.record(src, dst, payload, |ip, sport, dport, out| {
            ip.udp(sport, dport).write(out, payload).is_ok()
        });
    }

    /// Records a TCP segment from `src` to `dst`.
    fn tcp(&self, src: SocketAddr, dst: SocketAddr, seg: Segment, payload: &[u8]) {
        self.record(src, dst, payload, |ip, sport, dport, out| {
            let mut b = ip.tcp(sport, dport, seg.seq, WINDOW);
            if seg.syn {
                b = b.syn();
            }
            if let Some(ack) = seg.ack {
                b = b.ack(ack);
            }
            if seg.fin {
                b = b.fin();
            }
            if seg.rst {
                b = b.rst();
            }
            if !payload.is_empty() {
                b = b.psh();
            }
            b.write(out, payload).is_ok()
        });
    }
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The header fields of one synthesised TCP segment.
#[derive(Clone, Copy, Default)]
struct Segment {
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
}

/// One TCP connection as the capture draws it: client ↔ server, with
/// sequence numbers that count the bytes each side delivered, so that
/// reassembling by sequence number gives back the exact streams.
pub(crate) struct TcpFlow {
    capture: Capture,
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence numbers: `[client → server, server → client]`.
    next: Mutex<[u32; 2]>,
}

/// The initial sequence numbers; any fixed values do, as the capture only
/// has to be consistent with itself.
const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 5_000;

impl TcpFlow {
    /// Starts a flow and records its three-way handshake.
    pub(crate) fn open(capture: Capture, client: SocketAddr, server: SocketAddr) -> TcpFlow {
        let flow = TcpFlow {
            capture,
            client,
            server,
            next: Mutex::new([CLIENT_ISN + 1, SERVER_ISN + 1]),
        };
        let syn = |seq, ack| Segment {
            seq,
            ack,
            syn: true,
            ..Segment::default()
        };
        flow.capture.tcp(client, server, syn(CLIENT_ISN, None), &[]);
        flow.capture
            .tcp(server, client, syn(SERVER_ISN, Some(CLIENT_ISN + 1)), &[]);
        flow.send(true, Segment::default(), &[], 0);
        flow
    }

    /// Records a segment from the client (`to_server`) or from the server,
    /// carrying `payload`, then advances that side's sequence number by the
    /// payload plus `advance` (1 for a FIN).
    fn send(&self, to_server: bool, mut seg: Segment, payload: &[u8], advance: u32) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let (me, peer) = if to_server { (0, 1) } else { (1, 0) };
        seg.seq = next[me];
        seg.ack = Some(next[peer]);
        // Sequence numbers wrap modulo 2^32, as on the wire.
        next[me] = next[me]
            .wrapping_add(payload.len() as u32)
            .wrapping_add(advance);
        let (src, dst) = if to_server {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        self.capture.tcp(src, dst, seg, payload);
    }

    /// Records data delivered in one direction.
    pub(crate) fn data(&self, to_server: bool, payload: &[u8]) {
        self.send(to_server, Segment::default(), payload, 0);
    }

    /// Records a FIN: that side finished sending.
    pub(crate) fn fin(&self, to_server: bool) {
        let fin = Segment {
            fin: true,
            ..Segment::default()
        };
        self.send(to_server, fin, &[], 1);
    }

    /// Records the relay's reset: an RST to each side.
    pub(crate) fn reset(&self) {
        let rst = Segment {
            rst: true,
            ..Segment::default()
        };
        self.send(true, rst, &[], 0);
        self.send(false, rst, &[], 0);
    }
}

/// The 24-byte header of a classic pcap file: microsecond timestamps,
/// `LINKTYPE_RAW` (bare IPv4/IPv6 packets).
pub fn write_pcap_header(out: &mut impl Write) -> io::Result<()> {
    // Magic, version 2.4, GMT offset, accuracy, snapshot length, link type.
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&0i32.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&262_144u32.to_le_bytes())?;
    out.write_all(&101u32.to_le_bytes())
}

/// One pcap record: its 16-byte header (`at` since the Unix epoch, in
/// seconds and microseconds; the packet's length, kept whole) and `packet`.
/// The simulated network's capture writes its records with this too, so
/// both networks' files have one format.
pub fn write_pcap_record(out: &mut impl Write, at: Duration, packet: &[u8]) -> io::Result<()> {
    let len = u32::try_from(packet.len()).map_err(io::Error::other)?;
    let secs = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
    out.write_all(&secs.to_le_bytes())?;
    out.write_all(&at.subsec_micros().to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(packet)
}
