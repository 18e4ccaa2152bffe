//! Corruption on a link and the receiver's checksum that catches it: the
//! link flips one bit of a packet's transport part (the UDP or TCP header
//! and payload), and the receiving node checks the UDP or TCP checksum as
//! its stack would, with smoltcp's wire code, before anything reads it.

use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket};

/// Where a packet's transport part starts and which protocol it is, with
/// its addresses; `None` for a packet that does not parse as IP.
fn transport(packet: &[u8]) -> Option<(usize, IpProtocol, IpAddress, IpAddress)> {
    match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(packet).ok()?;
            let header = packet.len() - ip.payload().len();
            let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
            Some((header, ip.next_header(), src, dst))
        }
        6 => {
            let ip = Ipv6Packet::new_checked(packet).ok()?;
            let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
            Some((40, ip.next_header(), src, dst))
        }
        _ => None,
    }
}

/// Flips one bit of `packet`'s transport part: the one at `at`, a fraction
/// in `[0, 1)` of its bits.
pub(crate) fn damage(packet: &mut [u8], at: f64) {
    let start = transport(packet).map_or(0, |(start, ..)| start);
    let bits = (packet.len() - start) * 8;
    if bits == 0 {
        return;
    }
    let bit = ((at * bits as f64) as usize).min(bits - 1);
    packet[start + bit / 8] ^= 1 << (bit % 8);
}

/// Whether the UDP or TCP checksum of the IP `packet` holds, as the
/// receiving stack checks it (a UDP datagram sent without a checksum, 0,
/// passes). A packet too damaged to parse fails.
pub(crate) fn intact(packet: &[u8]) -> bool {
    let Some((start, protocol, src, dst)) = transport(packet) else {
        return false;
    };
    let body = &packet[start..];
    match protocol {
        IpProtocol::Udp => {
            UdpPacket::new_checked(body).is_ok_and(|udp| udp.verify_checksum(&src, &dst))
        }
        IpProtocol::Tcp => {
            TcpPacket::new_checked(body).is_ok_and(|tcp| tcp.verify_checksum(&src, &dst))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::udp_packet;

    #[test]
    fn every_flipped_bit_of_a_datagram_is_caught() {
        for (src, dst) in [
            ("10.0.0.1:4000", "10.0.0.2:7"),
            ("[fd00::1]:4000", "[fd00::2]:7"),
        ] {
            let packet = udp_packet(src.parse().unwrap(), dst.parse().unwrap(), 64, b"hello")
                .expect("builds");
            assert!(intact(&packet));
            let bits = (8 + 5) * 8;
            let mut caught = 0;
            for bit in 0..bits {
                let mut damaged = packet.clone();
                damage(&mut damaged, (bit as f64 + 0.5) / bits as f64);
                assert_ne!(damaged, packet);
                caught += usize::from(!intact(&damaged));
            }
            // On IPv4 a flip that zeroes the checksum field would pass
            // ("no checksum"); this packet's checksum has no such bit.
            assert_eq!(caught, bits, "{src}");
        }
    }
}
