//! Capture in simulated time: every IP packet a node sends (over a link,
//! to another node, on its own loopback), written as a pcap record stamped
//! with the simulated time it was sent.
//!
//! The file has socklab-relay's format (`socklab_relay::write_pcap_header`
//! and `write_pcap_record`): classic pcap, microsecond timestamps,
//! `LINKTYPE_RAW`, so one tool reads the captures of both networks. A
//! record's timestamp is the simulated time in microseconds read as time
//! since the Unix epoch (1970-01-01T00:00:00Z plus the simulated time), so
//! it equals the `at_micros` of the send in the event log.
//!
//! The capture is taken at the sender, as `tcpdump` on the sending node's
//! interface would take it: a datagram is recorded when it is sent,
//! whatever becomes of it (lost on its link, no route, no listener). A
//! datagram its link duplicates is recorded once per copy the link put on
//! the wire, both at the time of the send.
//!
//! [`Capture::record`] takes a whole IP packet: UDP builds its packets with
//! [`udp_packet`] (real IPv4/IPv6 and UDP headers, checksums computed, the
//! socket's hop limit); a transport that makes raw IP packets itself hands
//! them to `record` as they are.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::PacketBuilder;

use crate::exec::Handle;

/// A capture under way: where its records go and what it has written.
pub(crate) struct Capture {
    /// The pcap file (or any writer), its header already written.
    out: Box<dyn Write + Send>,
    /// Records written so far.
    packets: u64,
    /// Packet bytes written so far (not counting pcap's own headers).
    bytes: u64,
    /// The first write that failed: a send never fails because its capture
    /// could not be written, so the failure waits for [`Handle::finish_capture`].
    error: Option<io::Error>,
}

/// What a finished capture holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    /// Records (IP packets) written.
    pub packets: u64,
    /// Bytes of those packets, without pcap's headers.
    pub bytes: u64,
}

impl Capture {
    /// Starts a capture into `out`, writing the pcap file header now, so
    /// that an unwritable file is found out before anything is sent.
    fn start(mut out: Box<dyn Write + Send>) -> io::Result<Capture> {
        socklab_relay::write_pcap_header(&mut out)?;
        Ok(Capture {
            out,
            packets: 0,
            bytes: 0,
            error: None,
        })
    }

    /// Records `packet`, a whole IPv4 or IPv6 packet, as sent at simulated
    /// time `at_micros`. The one entry point of every transport.
    pub(crate) fn record(&mut self, at_micros: u64, packet: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let at = Duration::from_micros(at_micros);
        match socklab_relay::write_pcap_record(&mut self.out, at, packet) {
            Ok(()) => {
                self.packets += 1;
                self.bytes += packet.len() as u64;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Flushes the file; what it holds, or the first write that failed.
    fn finish(mut self) -> io::Result<Captured> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(Captured {
            packets: self.packets,
            bytes: self.bytes,
        })
    }
}

/// The IP packet of a UDP datagram `src → dst` carrying `payload`, with
/// `hop_limit` as its TTL / hop limit and both checksums computed. `None`
/// when it cannot be built (a payload larger than IP carries; the sockets
/// refuse those before they are sent).
pub(crate) fn udp_packet(
    src: SocketAddr,
    dst: SocketAddr,
    hop_limit: u8,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let ip = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), hop_limit),
        // A socket sends in one family; should the two differ, the IPv4
        // one is drawn IPv4-mapped, as the relay's capture draws it.
        (s, d) => PacketBuilder::ipv6(v6(s), v6(d), hop_limit),
    };
    let mut packet = Vec::with_capacity(payload.len() + 48);
    ip.udp(src.port(), dst.port())
        .write(&mut packet, payload)
        .ok()?;
    Some(packet)
}

fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl Handle {
    /// Starts capturing every IP packet any node sends, as a pcap file
    /// written to `out` (the header now, one record per packet as it is
    /// sent). Off until this is called.
    ///
    /// # Errors
    /// Writing the header failed, or a capture is already under way (finish
    /// it first).
    pub fn capture_to(&self, out: impl Write + Send + 'static) -> io::Result<()> {
        let mut core = self.shared.core();
        if core.capture.is_some() {
            return Err(io::Error::other(
                "a capture is already under way; finish it first",
            ));
        }
        core.capture = Some(Capture::start(Box::new(out))?);
        Ok(())
    }

    /// Stops the capture and flushes its writer (which is then dropped):
    /// what it holds.
    ///
    /// # Errors
    /// The first write that failed while capturing, or the flush; or no
    /// capture was started.
    pub fn finish_capture(&self) -> io::Result<Captured> {
        let capture = self.shared.core().capture.take();
        match capture {
            Some(capture) => capture.finish(),
            None => Err(io::Error::other(
                "no capture was started (Handle::capture_to)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    #[test]
    fn udp_packets_carry_the_sockets_addresses_hop_limit_and_valid_checksums() {
        for (src, dst) in [
            ("10.0.0.1:4000", "10.0.0.2:7"),
            ("[fd00::1]:4000", "[fd00::2]:7"),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let packet = udp_packet(src, dst, 9, b"hello").expect("builds");
            let sliced = SlicedPacket::from_ip(&packet).expect("parses");
            match sliced.net {
                Some(NetSlice::Ipv4(ip)) => {
                    assert_eq!(ip.header().ttl(), 9);
                    let header = ip.header().to_header();
                    assert_eq!(header.header_checksum, header.calc_header_checksum());
                }
                Some(NetSlice::Ipv6(ip)) => assert_eq!(ip.header().hop_limit(), 9),
                other => panic!("not IP: {other:?}"),
            }
            let Some(TransportSlice::Udp(udp)) = sliced.transport else {
                panic!("not UDP");
            };
            assert_eq!((udp.source_port(), udp.destination_port()), (4000, 7));
            assert_eq!(udp.payload(), b"hello");
            let header = udp.to_header();
            let sum = match (src.ip(), dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    header.calc_checksum_ipv4_raw(s.octets(), d.octets(), b"hello")
                }
                (s, d) => header.calc_checksum_ipv6_raw(v6(s), v6(d), b"hello"),
            };
            assert_eq!(header.checksum, sum.expect("in range"));
        }
    }
}
