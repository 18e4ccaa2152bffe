//! `ip-socket-address` and `ip-address` to and from the standard library's
//! types, and the address checks wasmtime-wasi 48 applies before any
//! socket call.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::bindings::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};

pub(crate) fn to_std(addr: IpSocketAddress) -> SocketAddr {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            let (x0, x1, x2, x3) = a.address;
            SocketAddrV4::new(Ipv4Addr::new(x0, x1, x2, x3), a.port).into()
        }
        IpSocketAddress::Ipv6(a) => {
            let (x0, x1, x2, x3, x4, x5, x6, x7) = a.address;
            let ip = Ipv6Addr::new(x0, x1, x2, x3, x4, x5, x6, x7);
            SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id).into()
        }
    }
}

pub(crate) fn from_std(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => {
            let [x0, x1, x2, x3] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (x0, x1, x2, x3),
            })
        }
        SocketAddr::V6(a) => {
            let [x0, x1, x2, x3, x4, x5, x6, x7] = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (x0, x1, x2, x3, x4, x5, x6, x7),
                scope_id: a.scope_id(),
            })
        }
    }
}

pub(crate) fn ip_from_std(ip: IpAddr) -> IpAddress {
    match from_std(SocketAddr::new(ip, 0)) {
        IpSocketAddress::Ipv4(a) => IpAddress::Ipv4(a.address),
        IpSocketAddress::Ipv6(a) => IpAddress::Ipv6(a.address),
    }
}

pub(crate) fn family(ipv6: bool) -> IpAddressFamily {
    if ipv6 {
        IpAddressFamily::Ipv6
    } else {
        IpAddressFamily::Ipv4
    }
}

/// wasmtime-wasi's `is_valid_address_family`: the socket's family, and on
/// an IPv6 socket neither an IPv4-mapped nor an IPv4-compatible address
/// (IPv6 sockets are IPv6-only).
pub fn valid_family(ip: IpAddr, ipv6: bool) -> bool {
    match (ipv6, ip) {
        (false, IpAddr::V4(_)) => true,
        (true, IpAddr::V6(v6)) => {
            let compatible = matches!(v6.segments(), [0, 0, 0, 0, 0, 0, _, _])
                && v6 != Ipv6Addr::UNSPECIFIED
                && v6 != Ipv6Addr::LOCALHOST;
            !compatible && v6.to_ipv4_mapped().is_none()
        }
        _ => false,
    }
}

/// Largest datagram a `send` accepts (wasmtime-wasi's `MAX_DATAGRAM_SIZE`);
/// the network then refuses what IP cannot carry.
pub const MAX_DATAGRAM_SIZE: usize = u16::MAX as usize;

/// Where one datagram of `len` bytes goes, checked in wasmtime-wasi 48's
/// order: its size, then its address (`remote`: valid, of the socket's
/// family, the `connected` peer's if connected; none: the peer).
pub fn destination(
    len: usize,
    remote: Option<SocketAddr>,
    connected: Option<SocketAddr>,
    ipv6: bool,
) -> Result<SocketAddr, ErrorCode> {
    if len > MAX_DATAGRAM_SIZE {
        return Err(ErrorCode::DatagramTooLarge);
    }
    match (remote, connected) {
        (Some(addr), _) if !valid_remote(addr) || !valid_family(addr.ip(), ipv6) => {
            Err(ErrorCode::InvalidArgument)
        }
        (Some(addr), Some(peer)) if addr != peer => Err(ErrorCode::InvalidArgument),
        (Some(addr), _) | (None, Some(addr)) => Ok(addr),
        (None, None) => Err(ErrorCode::InvalidArgument),
    }
}

/// wasmtime-wasi's `is_valid_remote_address`: not a wildcard, not port 0.
pub fn valid_remote(addr: SocketAddr) -> bool {
    !addr.ip().to_canonical().is_unspecified() && addr.port() != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_sockets_refuse_ipv4_mapped_and_compatible_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert!(valid_family(ip("fd00::1"), true));
        assert!(valid_family(ip("::1"), true));
        assert!(valid_family(ip("::"), true));
        assert!(!valid_family(ip("::ffff:10.0.0.1"), true), "mapped");
        assert!(!valid_family(ip("::10.0.0.1"), true), "compatible");
        assert!(!valid_family(ip("10.0.0.1"), true));
        assert!(!valid_family(ip("fd00::1"), false));
        assert!(valid_remote("10.0.0.1:7".parse().expect("an address")));
        assert!(!valid_remote("0.0.0.0:7".parse().expect("an address")));
        assert!(!valid_remote(
            "[::ffff:0.0.0.0]:7".parse().expect("an address")
        ));
        assert!(!valid_remote("10.0.0.1:0".parse().expect("an address")));
    }
}
