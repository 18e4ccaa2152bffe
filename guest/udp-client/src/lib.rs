//! `udp-client`: send each message as one datagram and wait for one reply.
//!
//! It follows the seed notes' UDP client: `socket(SOCK_DGRAM)`, then for each
//! message `sendto` the server and `recvfrom` its reply. There is no
//! connection: the client binds an ephemeral port and names the server on
//! every datagram. UDP keeps message boundaries, so a reply is exactly one
//! datagram, the next one from the server's address. A reply that does not
//! come before the timeout is reported as lost and the client moves on: it
//! never waits longer than the timeout for any message.
//!
//! With the parameter `match=seq` (the lab sets it for its numbered
//! messages, `#000042 ...`), the reply is the next datagram from the server
//! that carries the message's own number: a stale reply to an earlier
//! message, or a duplicate, is skipped instead of being taken for this
//! message's answer. Messages without a number still take the next datagram.

use socklab_guest::io::{Deadline, elapsed_ns, wait_until};
use socklab_guest::types::{ClientConfig, ClientReport, Exchange, Reply};
use socklab_guest::udp::{UdpSocketExt, send_to};
use socklab_guest::wasi::clocks::monotonic_clock;
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::udp::IncomingDatagramStream;
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;
use socklab_guest::{
    addr_text, code_text, debug, failed, family_of, param, same_peer, unspecified,
};

socklab_guest::role!("socklab:lab/udp-client");

struct Client;

impl exports::socklab::lab::udp_client_role::Guest for Client {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let network = instance_network();
        let server = config.server;
        let family = family_of(&server);

        // client_sock = socket.socket(AF_INET, SOCK_DGRAM)
        let socket = create_udp_socket(family).map_err(|e| failed("create-udp-socket", e))?;
        // An explicit bind to any interface and a free port: what the first
        // sendto would do implicitly.
        socket
            .blocking_bind(&network, unspecified(family))
            .map_err(|e| failed("bind", e))?;
        // No remote address: datagrams carry their destination (sendto).
        let (incoming, outgoing) = socket.stream(None).map_err(|e| failed("stream", e))?;

        let by_seq = param(&config.params, "match") == Some("seq");
        let mut exchanges = Vec::with_capacity(config.messages.len());
        for message in config.messages {
            // The number a reply must carry to answer this message, if any.
            let tag = by_seq
                .then(|| seq_tag(&message).map(<[u8]>::to_vec))
                .flatten();
            let start = monotonic_clock::now();
            // client_sock.sendto(message, (host, port))
            let bytes_sent = match send_to(&outgoing, message, server) {
                Ok(n) => n,
                Err(e) => {
                    exchanges.push(Exchange {
                        bytes_sent: 0,
                        reply: Reply::SendFailed(code_text(e)),
                        rtt_ns: elapsed_ns(start),
                    });
                    continue;
                }
            };
            // (reply, (host, port)) = client_sock.recvfrom(...)
            let reply = match next_from(
                &incoming,
                &server,
                tag.as_deref(),
                Deadline::after_ms(config.reply_timeout_ms),
            ) {
                Ok(Some(data)) => Reply::Complete(data),
                Ok(None) => Reply::Lost,
                Err(e) => Reply::SendFailed(e),
            };
            exchanges.push(Exchange {
                bytes_sent,
                reply,
                rtt_ns: elapsed_ns(start),
            });
        }
        Ok(ClientReport { exchanges })
    }
}

/// The next datagram from `server` before `deadline` (one starting with
/// `tag`, when given), or `None` if none came. Datagrams from anyone else,
/// or with another number, are skipped (and logged).
fn next_from(
    incoming: &IncomingDatagramStream,
    server: &socklab_guest::wasi::sockets::network::IpSocketAddress,
    tag: Option<&[u8]>,
    deadline: Deadline,
) -> Result<Option<Vec<u8>>, String> {
    let readable = incoming.subscribe();
    let timer = deadline.pollable();
    loop {
        if !wait_until(&readable, &timer) {
            return Ok(None);
        }
        for datagram in incoming.receive(1).map_err(|e| failed("receive", e))? {
            if !same_peer(&datagram.remote_address, server) {
                debug(&format!(
                    "ignored a datagram from {}",
                    addr_text(&datagram.remote_address)
                ));
                continue;
            }
            match tag {
                Some(tag) if seq_tag(&datagram.data) != Some(tag) => debug(&format!(
                    "skipped a reply to another message ({})",
                    String::from_utf8_lossy(seq_tag(&datagram.data).unwrap_or(b"no number"))
                )),
                _ => return Ok(Some(datagram.data)),
            }
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
