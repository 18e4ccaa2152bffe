//! A TCP segment's header, read from the IP packet that carries it, for the
//! event log and for the few decisions socklab's layer makes about a packet
//! before smoltcp sees it (whose RST it is, whether a SYN finds a full
//! backlog).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What the log shows of one segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) syn: bool,
    pub(crate) ack: bool,
    pub(crate) fin: bool,
    pub(crate) rst: bool,
    pub(crate) psh: bool,
    pub(crate) seq: u32,
    pub(crate) ack_number: u32,
    /// Payload bytes.
    pub(crate) len: u32,
}

/// IP's protocol number for TCP.
const TCP: u8 = 6;

impl Segment {
    /// The TCP segment in an IPv4 or IPv6 packet (no extension headers: smoltcp
    /// sends none); `None` for anything else.
    pub(crate) fn parse(packet: &[u8]) -> Option<Segment> {
        let (src, dst, tcp) = match packet.first()? >> 4 {
            4 if packet.len() >= 20 && packet[9] == TCP => {
                let ihl = usize::from(packet[0] & 0x0f) * 4;
                let ip = |at: usize| IpAddr::from(Ipv4Addr::from(octets::<4>(&packet[at..])));
                (ip(12), ip(16), packet.get(ihl..)?)
            }
            6 if packet.len() >= 40 && packet[6] == TCP => {
                let ip = |at: usize| IpAddr::from(Ipv6Addr::from(octets::<16>(&packet[at..])));
                (ip(8), ip(24), &packet[40..])
            }
            _ => return None,
        };
        if tcp.len() < 20 {
            return None;
        }
        let word = |at: usize| u32::from_be_bytes(octets::<4>(&tcp[at..]));
        let port = |at: usize| u16::from_be_bytes([tcp[at], tcp[at + 1]]);
        let offset = usize::from(tcp[12] >> 4) * 4;
        let flags = tcp[13];
        Some(Segment {
            src: SocketAddr::new(src, port(0)),
            dst: SocketAddr::new(dst, port(2)),
            fin: flags & 0x01 != 0,
            syn: flags & 0x02 != 0,
            rst: flags & 0x04 != 0,
            psh: flags & 0x08 != 0,
            ack: flags & 0x10 != 0,
            seq: word(4),
            ack_number: word(8),
            len: tcp.len().saturating_sub(offset) as u32,
        })
    }

    /// How much sequence space it takes: its payload, plus one for a SYN and
    /// one for a FIN.
    pub(crate) fn seq_len(&self) -> u32 {
        self.len + u32::from(self.syn) + u32::from(self.fin)
    }

    /// A SYN that opens a connection (not the SYN-ACK that answers one).
    pub(crate) fn is_open(&self) -> bool {
        self.syn && !self.ack
    }
}

fn octets<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

impl fmt::Display for Segment {
    /// `10.0.0.1:40000 -> 10.0.0.2:7 [SYN] seq=1 ack=0 len=0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
        ];
        write!(f, "{} -> {} [", self.src, self.dst)?;
        let on = names.iter().filter(|(on, _)| *on).map(|(_, n)| *n);
        for (i, name) in on.enumerate() {
            f.write_str(if i == 0 { "" } else { "," })?;
            f.write_str(name)?;
        }
        write!(
            f,
            "] seq={} ack={} len={}",
            self.seq, self.ack_number, self.len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_shows_its_ends_flags_and_numbers() {
        let mut seg = Segment {
            src: "10.0.0.1:40000".parse().expect("an address"),
            dst: "[fd00::2]:7".parse().expect("an address"),
            syn: true,
            ack: false,
            fin: false,
            rst: false,
            psh: false,
            seq: 1,
            ack_number: 0,
            len: 0,
        };
        let text = "10.0.0.1:40000 -> [fd00::2]:7 [SYN] seq=1 ack=0 len=0";
        assert_eq!(seg.to_string(), text);
        (seg.syn, seg.fin, seg.psh, seg.ack, seg.len) = (false, true, true, true, 5);
        let text = "10.0.0.1:40000 -> [fd00::2]:7 [FIN,PSH,ACK] seq=1 ack=0 len=5";
        assert_eq!(seg.to_string(), text);
        (seg.fin, seg.psh, seg.ack) = (false, false, false);
        assert_eq!(
            seg.to_string(),
            "10.0.0.1:40000 -> [fd00::2]:7 [] seq=1 ack=0 len=5"
        );
    }
}
