//! The conformance probes' shared vocabulary (`probe-udp-conformance`,
//! `probe-tcp-conformance`): what a case prints, and the loopback and
//! IPv4-mapped addresses the cases use.

use crate::wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};

/// What one case found: `Ok("")` prints `ok`, `Ok(v)` prints `ok:v`,
/// `Err(code)` prints `error:code`.
pub type Outcome = Result<String, ErrorCode>;

/// `127.0.0.1:port`.
pub fn v4(port: u16) -> IpSocketAddress {
    v4_of((127, 0, 0, 1), port)
}

/// `a.b.c.d:port`.
pub fn v4_of(address: (u8, u8, u8, u8), port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address })
}

/// `[::1]:port`.
pub fn v6(port: u16) -> IpSocketAddress {
    v6_of((0, 0, 0, 0, 0, 0, 0, 1), port)
}

/// `[::ffff:127.0.0.1]:port`, the IPv4-mapped form of the IPv4 loopback.
pub fn mapped(port: u16) -> IpSocketAddress {
    v6_of((0, 0, 0, 0, 0, 0xffff, 0x7f00, 1), port)
}

/// `[address]:port`.
pub fn v6_of(address: (u16, u16, u16, u16, u16, u16, u16, u16), port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv6(Ipv6SocketAddress {
        port,
        flow_info: 0,
        address,
        scope_id: 0,
    })
}

/// The loopback address of `family` with `port`.
pub fn loopback(family: IpAddressFamily, port: u16) -> IpSocketAddress {
    match family {
        IpAddressFamily::Ipv4 => v4(port),
        IpAddressFamily::Ipv6 => v6(port),
    }
}

/// The port of `addr`.
pub fn port_of(addr: &IpSocketAddress) -> u16 {
    match addr {
        IpSocketAddress::Ipv4(a) => a.port,
        IpSocketAddress::Ipv6(a) => a.port,
    }
}

/// `addr` with the port shown as `port=N`, the part the comparison
/// allow-lists: `ip=127.0.0.1,port=40123`.
pub fn addr_value(addr: &IpSocketAddress) -> String {
    let text = crate::addr_text(addr);
    let (ip, port) = text.rsplit_once(':').expect("an address has a port");
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    format!("ip={ip},port={port}")
}
