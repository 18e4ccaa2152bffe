//! `udp-std-client`: the UDP client written with Rust's `std::net`:
//! `UdpSocket::bind` an ephemeral port, then `send_to` the server and
//! `recv_from` its reply. A reply that does not come in time is lost; the
//! client moves on.
//!
//! std on wasm32-wasip2 has no read timeout for UDP sockets, and std has no
//! `poll`, so the socket is non-blocking and the client checks it every
//! [`RECHECK`] until the deadline: that adds up to one recheck of latency.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use socklab_guest::to_std;
use socklab_guest::types::{ClientConfig, ClientReport, Exchange, Reply};

socklab_guest::role!("socklab:lab/udp-client");

struct Client;

/// How often a waiting client looks for its reply.
const RECHECK: Duration = Duration::from_micros(50);

impl exports::socklab::lab::udp_client_role::Guest for Client {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let server = to_std(config.server);
        let any = if server.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        // client_sock = socket(SOCK_DGRAM), bound to any free port
        let socket = UdpSocket::bind(any).map_err(|e| format!("bind: {e}"))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("set_nonblocking: {e}"))?;
        let timeout = Duration::from_millis(u64::from(config.reply_timeout_ms.max(1)));
        let mut buf = vec![0u8; 64 * 1024];
        let mut exchanges = Vec::new();
        for message in config.messages {
            let start = Instant::now();
            // client_sock.sendto(message, (host, port))
            let sent = match socket.send_to(&message, server) {
                Ok(n) => n as u64,
                Err(e) => {
                    exchanges.push(Exchange {
                        bytes_sent: 0,
                        reply: Reply::SendFailed(e.to_string()),
                        rtt_ns: 0,
                    });
                    continue;
                }
            };
            let deadline = start + timeout;
            // (reply, addr) = client_sock.recvfrom(65536), from the server only
            let reply = loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) if from == server => break Reply::Complete(buf[..n].to_vec()),
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            break Reply::Lost;
                        }
                        std::thread::sleep(RECHECK);
                    }
                    Err(e) => break Reply::SendFailed(format!("recvfrom: {e}")),
                }
            };
            exchanges.push(Exchange {
                bytes_sent: sent,
                reply,
                rtt_ns: start.elapsed().as_nanos() as u64,
            });
        }
        Ok(ClientReport { exchanges })
    }
}

export!(Client);
