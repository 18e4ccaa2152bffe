//! `wasi03-udp-client`: `udp-client` on WASI 0.3 — send each message as one
//! datagram and wait for one reply.
//!
//! It follows the seed notes' UDP client (`socket(SOCK_DGRAM)`, then for
//! each message `sendto` the server and `recvfrom` its reply) through
//! `wasi:sockets/types@0.3.0`: `send(data, some(server))` is `sendto`,
//! `receive()` is `recvfrom`, raced against a `wait-until` at the message's
//! deadline. There is no connection: the client binds an ephemeral port and
//! names the server on every datagram. A reply that does not come before
//! the timeout is lost and the client moves on.
//!
//! With the parameter `match=seq` (the lab's numbered messages,
//! `#000042 ...`), the reply is the next datagram from the server that
//! carries the message's own number, as `udp-client` does.

use std::pin::pin;

use futures::future::{Either, select};
use socklab_guest03::types::{ClientConfig, ClientReport, Exchange, Reply};
use socklab_guest03::wasi::clocks::monotonic_clock;
use socklab_guest03::wasi::sockets::types::{IpSocketAddress, UdpSocket};
use socklab_guest03::{
    addr_text, code_text, debug, elapsed_ns, failed, family_of, param, same_peer, unspecified,
};

socklab_guest03::role!("socklab:lab/udp-client@0.2.0");

struct Client;

impl exports::socklab::lab::udp_client_role::Guest for Client {
    async fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let server = config.server;
        let family = family_of(&server);
        // client_sock = socket.socket(AF_INET, SOCK_DGRAM)
        let socket = UdpSocket::create(family).map_err(|e| failed("udp-socket.create", e))?;
        // An explicit bind to any interface and a free port: what the first
        // sendto would do implicitly.
        socket
            .bind(unspecified(family))
            .map_err(|e| failed("bind", e))?;
        let by_seq = param(&config.params, "match") == Some("seq");
        let timeout_ns = u64::from(config.reply_timeout_ms) * 1_000_000;
        let mut exchanges = Vec::with_capacity(config.messages.len());
        for message in config.messages {
            let tag = by_seq
                .then(|| seq_tag(&message).map(<[u8]>::to_vec))
                .flatten();
            let bytes = message.len() as u64;
            let start = monotonic_clock::now();
            // client_sock.sendto(message, (host, port))
            if let Err(e) = socket.send(message, Some(server)).await {
                exchanges.push(Exchange {
                    bytes_sent: 0,
                    reply: Reply::SendFailed(code_text(&e)),
                    rtt_ns: elapsed_ns(start),
                });
                continue;
            }
            // (reply, (host, port)) = client_sock.recvfrom(...)
            let deadline = start.saturating_add(timeout_ns);
            let reply = match next_from(&socket, &server, tag.as_deref(), deadline).await {
                Ok(Some(data)) => Reply::Complete(data),
                Ok(None) => Reply::Lost,
                Err(e) => Reply::SendFailed(e),
            };
            exchanges.push(Exchange {
                bytes_sent: bytes,
                reply,
                rtt_ns: elapsed_ns(start),
            });
        }
        Ok(ClientReport { exchanges })
    }
}

/// The next datagram from `server` before `deadline` (a monotonic-clock
/// mark), one starting with `tag` when given, or `None` if none came.
/// Datagrams from anyone else, or with another number, are skipped (and
/// logged). A `receive` cut short by the deadline is dropped, which cancels
/// it before it took a datagram.
async fn next_from(
    socket: &UdpSocket,
    server: &IpSocketAddress,
    tag: Option<&[u8]>,
    deadline: u64,
) -> Result<Option<Vec<u8>>, String> {
    let mut timer = pin!(monotonic_clock::wait_until(deadline));
    loop {
        let (data, from) = match select(pin!(socket.receive()), timer.as_mut()).await {
            Either::Left((received, _)) => received.map_err(|e| failed("receive", e))?,
            Either::Right(((), _)) => return Ok(None),
        };
        if !same_peer(&from, server) {
            debug(&format!("ignored a datagram from {}", addr_text(&from)));
            continue;
        }
        match tag {
            Some(tag) if seq_tag(&data) != Some(tag) => debug(&format!(
                "skipped a reply to another message ({})",
                String::from_utf8_lossy(seq_tag(&data).unwrap_or(b"no number"))
            )),
            _ => return Ok(Some(data)),
        }
    }
}

/// The sequence number a message or reply starts with, `#` and digits, if
/// it has one.
fn seq_tag(bytes: &[u8]) -> Option<&[u8]> {
    let digits = bytes.strip_prefix(b"#")?;
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    (len > 0).then(|| &bytes[..=len])
}

export!(Client);
