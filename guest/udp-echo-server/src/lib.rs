//! `udp-echo-server`: a UDP server that answers each datagram to its sender.
//!
//! It follows the seed notes' UDP server: `socket(SOCK_DGRAM)`, `bind`, then
//! `recvfrom` and `sendto` the same bytes back to the address they came from.
//! There is no `listen` and no `accept`: each datagram stands alone, and each
//! one answered is a session. It waits on its socket and on the host's stop
//! signal together, so it stops as soon as the host asks.
//!
//! Datagrams are taken in batches (`receive` of up to 64) and answered in
//! batches (`send` of as many as `check-send` allows), so a busy server makes
//! a few host calls per batch rather than several per datagram. It reads
//! before it waits, and waits only when the socket is empty.

use socklab_guest::host;
use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::udp::UdpSocketExt;
use socklab_guest::wasi::io::poll::{Pollable, poll};
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::udp::{OutgoingDatagram, OutgoingDatagramStream};
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;
use socklab_guest::{addr_text, debug, failed, family_of};

socklab_guest::role!("socklab:lab/udp-server");

struct Server;

/// The most datagrams taken from the socket in one `receive` call.
const BATCH: u64 = 64;

impl exports::socklab::lab::udp_server_role::Guest for Server {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let network = instance_network();

        // server_sock = socket.socket(AF_INET, SOCK_DGRAM)
        let socket = create_udp_socket(family_of(&config.listen))
            .map_err(|e| failed("create-udp-socket", e))?;
        // server_sock.bind((host, port))
        socket
            .blocking_bind(&network, config.listen)
            .map_err(|e| failed(&format!("bind {}", addr_text(&config.listen)), e))?;
        let local = socket
            .local_address()
            .map_err(|e| failed("local-address", e))?;
        // No remote address: the streams take datagrams from anyone and
        // send to whoever each datagram names, like recvfrom/sendto.
        let (incoming, outgoing) = socket.stream(None).map_err(|e| failed("stream", e))?;
        // Take the stop signal before announcing the address, so the host
        // knows from the start that this server stops by itself.
        let stop = host::stop_requested();
        host::listening(local);

        let mut report = ServerReport {
            sessions: 0,
            bytes_in: 0,
            bytes_out: 0,
        };
        let readable = incoming.subscribe();
        let sendable = outgoing.subscribe();
        loop {
            if config
                .max_sessions
                .is_some_and(|max| report.sessions >= max)
            {
                break;
            }
            if stop.ready() {
                debug("stop requested");
                break;
            }
            // (message, (client_host, client_port)) = server_sock.recvfrom(...)
            // Read first and wait only when nothing is queued, as a
            // non-blocking server does: under load the next datagram is
            // usually there already, and a wait that need not wait still
            // costs a round of the host's executor.
            let budget = config
                .max_sessions
                .map_or(BATCH, |max| (max - report.sessions).min(BATCH));
            let datagrams = incoming.receive(budget).map_err(|e| failed("receive", e))?;
            if datagrams.is_empty() {
                // A datagram or the stop signal, which the loop's top reads.
                poll(&[&stop, &readable]);
                continue;
            }
            // server_sock.sendto(message, (client_host, client_port)), each
            let replies = datagrams
                .into_iter()
                .map(|datagram| {
                    report.bytes_in += datagram.data.len() as u64;
                    OutgoingDatagram {
                        data: datagram.data,
                        remote_address: Some(datagram.remote_address),
                    }
                })
                .collect();
            send_all(&outgoing, &sendable, replies, &mut report);
        }
        Ok(report)
    }
}

/// Send every reply, as many per `send` as `check-send` allows. A reply the
/// host refuses or fails is logged and dropped; the others still go.
fn send_all(
    out: &OutgoingDatagramStream,
    sendable: &Pollable,
    mut replies: Vec<OutgoingDatagram>,
    report: &mut ServerReport,
) {
    while !replies.is_empty() {
        let room = match out.check_send() {
            Ok(0) => {
                sendable.block();
                continue;
            }
            Ok(room) => usize::try_from(room).unwrap_or(usize::MAX),
            Err(e) => {
                debug(&failed("check-send", e));
                return;
            }
        };
        let n = room.min(replies.len());
        match out.send(&replies[..n]) {
            Ok(sent) => {
                for reply in replies.drain(..usize::try_from(sent).unwrap_or(n).min(n)) {
                    report.bytes_out += reply.data.len() as u64;
                    report.sessions += 1;
                }
            }
            // `send` fails only on its first datagram (a later failure ends
            // the batch early instead): drop that one and go on.
            Err(e) => {
                let reply = replies.remove(0);
                let to = reply.remote_address.map_or("?".into(), |a| addr_text(&a));
                debug(&failed(&format!("sendto {to}"), e));
            }
        }
    }
}

export!(Server);
