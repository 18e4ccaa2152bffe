//! `udp-std-echo-server`: the UDP echo server written with Rust's
//! `std::net`: `UdpSocket::bind`, then `recv_from` and `send_to` the same
//! bytes back. `recv_from` blocks, so the host stops it by cancellation.

use std::net::UdpSocket;

use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::{debug, from_std, host, to_std};

socklab_guest::role!("socklab:lab/udp-server");

struct Server;

impl exports::socklab::lab::udp_server_role::Guest for Server {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        // server_sock = socket(SOCK_DGRAM); server_sock.bind((host, port))
        let socket = UdpSocket::bind(to_std(config.listen)).map_err(|e| format!("bind: {e}"))?;
        let local = socket
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        host::listening(from_std(local));

        let mut report = ServerReport {
            sessions: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let mut buf = vec![0u8; 64 * 1024];
        while config.max_sessions.is_none_or(|max| report.sessions < max) {
            // (message, addr) = server_sock.recvfrom(65536)
            let (n, from) = socket
                .recv_from(&mut buf)
                .map_err(|e| format!("recvfrom: {e}"))?;
            report.bytes_in += n as u64;
            // server_sock.sendto(message, addr)
            match socket.send_to(&buf[..n], from) {
                Ok(sent) => {
                    report.bytes_out += sent as u64;
                    report.sessions += 1;
                }
                Err(e) => debug(&format!("sendto {from}: {e}")),
            }
        }
        Ok(report)
    }
}

export!(Server);
