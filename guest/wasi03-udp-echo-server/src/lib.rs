//! `wasi03-udp-echo-server`: `udp-echo-server` on WASI 0.3 — a UDP server
//! that answers each datagram to its sender.
//!
//! It follows the seed notes' UDP server (`socket(SOCK_DGRAM)`, `bind`,
//! then `recvfrom` and `sendto` the same bytes back) through
//! `wasi:sockets/types@0.3.0`, where those are one call each: `receive()`
//! is `recvfrom` (the bytes and their source), `send(data, some(source))`
//! is `sendto`. There is no `listen` and no `accept`: each datagram stands
//! alone, and each one answered is a session. Each `receive` races the
//! host's stop future, so the server stops as soon as the host asks.

use std::pin::pin;

use futures::FutureExt;
use futures::future::{Either, select};
use socklab_guest03::types::{ServerConfig, ServerReport};
use socklab_guest03::wasi::sockets::types::UdpSocket;
use socklab_guest03::{addr_text, debug, failed, family_of, host};

socklab_guest03::role!("socklab:lab/udp-server@0.2.0");

struct Server;

impl exports::socklab::lab::udp_server_role::Guest for Server {
    async fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        // server_sock = socket.socket(AF_INET, SOCK_DGRAM)
        let socket = UdpSocket::create(family_of(&config.listen))
            .map_err(|e| failed("udp-socket.create", e))?;
        // server_sock.bind((host, port))
        socket
            .bind(config.listen)
            .map_err(|e| failed(&format!("bind {}", addr_text(&config.listen)), e))?;
        let local = socket
            .get_local_address()
            .map_err(|e| failed("get-local-address", e))?;
        // Take the stop signal before announcing the address, so the host
        // knows from the start that this server stops by itself.
        let stop = host::stop_requested();
        host::listening(local);

        let mut report = ServerReport {
            sessions: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let mut stop = pin!(stop.into_future().fuse());
        while config.max_sessions.is_none_or(|max| report.sessions < max) {
            // (message, (client_host, client_port)) = server_sock.recvfrom(...)
            let received = match select(stop.as_mut(), pin!(socket.receive())).await {
                Either::Left(((), _)) => {
                    debug("stop requested");
                    break;
                }
                Either::Right((received, _)) => received,
            };
            let (data, from) = match received {
                Ok(datagram) => datagram,
                Err(e) => {
                    debug(&failed("receive", e));
                    continue;
                }
            };
            report.bytes_in += data.len() as u64;
            let len = data.len() as u64;
            // server_sock.sendto(message, (client_host, client_port))
            match socket.send(data, Some(from)).await {
                Ok(()) => {
                    report.bytes_out += len;
                    report.sessions += 1;
                }
                Err(e) => debug(&failed(&format!("sendto {}", addr_text(&from)), e)),
            }
        }
        Ok(report)
    }
}

export!(Server);
