//! The host's least-privilege grants, by role: what the wiring of an
//! exchange lets a server and a client do, as allow rules like any other (so
//! `--deny` beats them and `--allow` widens them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::op::Op;
use super::rules::{Rule, Target};

/// A TCP server: bind and listen on its listen address, accept anyone.
pub fn tcp_server(listen: SocketAddr) -> Vec<Rule> {
    vec![
        Rule::wiring(Op::TcpBind, Target::exact(listen)),
        Rule::wiring(Op::TcpListen, listen_target(listen)),
        Rule::wiring(Op::TcpAccept, Target::any()),
    ]
}

/// A TCP client: connect to its server, plus the wildcard bind that
/// connecting performs implicitly.
pub fn tcp_client(server: SocketAddr) -> Vec<Rule> {
    vec![
        Rule::wiring(Op::TcpConnect, Target::exact(server)),
        Rule::wiring(
            Op::TcpBind,
            Target::exact(SocketAddr::new(unspecified(server.ip()), 0)),
        ),
    ]
}

/// A UDP server: bind its listen address, receive from anyone, send only
/// to peers it has received from.
pub fn udp_server(listen: SocketAddr) -> Vec<Rule> {
    vec![
        Rule::wiring(Op::UdpBind, Target::exact(listen)),
        Rule::wiring(Op::UdpReceive, Target::any()),
        Rule::wiring(Op::UdpSend, Target::Senders),
    ]
}

/// A UDP client: bind an ephemeral port (wildcard or loopback), send to
/// and receive from its server only.
pub fn udp_client(server: SocketAddr) -> Vec<Rule> {
    let loopback = match server {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    vec![
        Rule::wiring(
            Op::UdpBind,
            Target::exact(SocketAddr::new(unspecified(server.ip()), 0)),
        ),
        Rule::wiring(Op::UdpBind, Target::exact(SocketAddr::new(loopback, 0))),
        Rule::wiring(Op::UdpSend, Target::exact(server)),
        Rule::wiring(Op::UdpReceive, Target::exact(server)),
    ]
}

/// What `listen` may be checked against once the socket is bound: with
/// port 0 the real port is not known in advance.
fn listen_target(listen: SocketAddr) -> Target {
    if listen.port() == 0 {
        Target::any_port(listen.ip())
    } else {
        Target::exact(listen)
    }
}

/// The wildcard address of `ip`'s family.
pub fn unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}
