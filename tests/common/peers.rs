//! The peers a probe may try to reach, outside any guest: native sockets on
//! loopback, or the simulation's own sockets on the probe's node, and a
//! client that connects and reads until the other side closes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socklab::runtime::tasks;

use super::sandbox::Net;
use super::within;

/// Connect a native client from `from` (any port) to `to`, then read until
/// the other side closes: the client's address, and `Ok(0)` for a close or
/// the error's kind (a reset, which may already fail the connect). On the
/// simulated network (`net`) the client is the simulation's own, on the
/// probe's node, and `from` is the loopback it connects from.
pub async fn connect_and_read_on(
    net: &Net,
    from: IpAddr,
    to: SocketAddr,
) -> (SocketAddr, Result<usize, std::io::ErrorKind>) {
    let Net::Simulated(node) = net else {
        return connect_and_read(from, to).await;
    };
    let read = async {
        let conn = node.tcp_connect(to).await?;
        let local = conn.local_addr()?;
        Ok::<_, socklab_sim::ErrorCode>((local, conn.read(&mut [0; 8]).await))
    };
    let (local, read) = within(&format!("a simulated client to {to}"), read)
        .await
        .unwrap_or_else(|e| panic!("a simulated client to {to}: {e:?}"));
    let read = read.map_err(|e| match e {
        socklab_sim::ErrorCode::ConnectionReset => std::io::ErrorKind::ConnectionReset,
        other => panic!("a simulated client to {to} read {other:?}"),
    });
    assert!(local.ip() == from, "{local} connects from {from}");
    (local, read)
}

/// Connect a native client from `from` (any port) to `to`, then read until
/// the other side closes: the client's address, and `Ok(0)` for a close or
/// the error's kind (a reset, which may already fail the connect).
pub async fn connect_and_read(
    from: IpAddr,
    to: SocketAddr,
) -> (SocketAddr, Result<usize, std::io::ErrorKind>) {
    use tokio::io::AsyncReadExt;
    let socket = match from {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    // Binding port 0 has chosen the port already.
    let local = socket.local_addr().unwrap();
    let read = async {
        let mut conn = socket.connect(to).await?;
        conn.read(&mut [0; 8]).await
    };
    let read = within(&format!("a native client from {local} to {to}"), read).await;
    (local, read.map_err(|e| e.kind()))
}

/// A peer that a guest may try to reach, outside any guest: a native
/// socket on loopback (a TCP listener or a UDP socket, never blocking), or on
/// the simulated network a socket of the simulation's own, on the probe's
/// node.
pub enum Native {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
    SimTcp(socklab_sim::TcpListener),
    SimUdp(socklab_sim::UdpSocket),
}

impl Native {
    /// Bind `tcp` or `udp` on `ip` of `net`, any free port.
    pub fn bind(net: &Net, transport: &str, ip: IpAddr) -> Native {
        let at = SocketAddr::new(ip, 0);
        let native = match (net, transport) {
            (Net::Real, "tcp") => Native::Tcp(std::net::TcpListener::bind(at).unwrap()),
            (Net::Real, _) => Native::Udp(std::net::UdpSocket::bind(at).unwrap()),
            (Net::Simulated(node), "tcp") => Native::SimTcp(node.tcp_listen(at).unwrap()),
            (Net::Simulated(node), _) => Native::SimUdp(node.udp_bind(at).unwrap()),
        };
        match &native {
            Native::Tcp(t) => t.set_nonblocking(true).unwrap(),
            Native::Udp(u) => u.set_nonblocking(true).unwrap(),
            Native::SimTcp(_) | Native::SimUdp(_) => {}
        }
        native
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Native::Tcp(t) => t.local_addr().unwrap(),
            Native::Udp(u) => u.local_addr().unwrap(),
            Native::SimTcp(t) => t.local_addr().unwrap(),
            Native::SimUdp(u) => u.local_addr().unwrap(),
        }
    }

    /// Send one datagram to `to` (UDP only).
    pub fn send_to(&self, data: &[u8], to: SocketAddr) {
        match self {
            Native::Udp(u) => drop(u.send_to(data, to).unwrap()),
            Native::SimUdp(u) => u.send_to(data, to).unwrap(),
            Native::Tcp(_) | Native::SimTcp(_) => panic!("a TCP listener sends no datagram"),
        }
    }

    /// Whether a connection or a datagram has arrived. Asked once the guest
    /// has returned: a connect that returned has finished its handshake, and
    /// loopback (the real one and each simulated node's) delivers a datagram
    /// before `sendto` returns. (The simulation's listener is asked with a
    /// timeout, which costs simulated time only.)
    pub async fn saw_anything(&self) -> bool {
        match self {
            Native::Tcp(t) => t.accept().is_ok(),
            Native::Udp(u) => u.recv_from(&mut [0; 64]).is_ok(),
            Native::SimTcp(t) => tasks::timeout(Duration::from_secs(1), t.accept())
                .await
                .is_some_and(|r| r.is_ok()),
            Native::SimUdp(u) => u.try_recv_from().unwrap().is_some(),
        }
    }
}
