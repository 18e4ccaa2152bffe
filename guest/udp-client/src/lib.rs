//! `udp-client`: send each message as one datagram and wait for one reply.
//!
//! It follows the seed notes' UDP client: `socket(SOCK_DGRAM)`, then for each
//! message `sendto` the server and `recvfrom` its reply. There is no
//! connection: the client binds an ephemeral port and names the server on
//! every datagram. UDP keeps message boundaries, so a reply is exactly one
//! datagram, the next one from the server's address. A reply that does not
//! come before the timeout is reported as lost and the client moves on: it
//! never waits longer than the timeout for any message.

use socklab_guest::io::{Deadline, elapsed_ns, wait_until};
use socklab_guest::types::{ClientConfig, ClientReport, Exchange, Reply};
use socklab_guest::udp::{UdpSocketExt, send_to};
use socklab_guest::wasi::clocks::monotonic_clock;
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::udp::IncomingDatagramStream;
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;
use socklab_guest::{addr_text, code_text, debug, failed, family_of, same_peer, unspecified};

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

        let mut exchanges = Vec::with_capacity(config.messages.len());
        for message in config.messages {
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

/// The next datagram from `server` before `deadline`, or `None` if none came.
/// Datagrams from anyone else are skipped (and logged).
fn next_from(
    incoming: &IncomingDatagramStream,
    server: &socklab_guest::wasi::sockets::network::IpSocketAddress,
    deadline: Deadline,
) -> Result<Option<Vec<u8>>, String> {
    let readable = incoming.subscribe();
    let timer = deadline.pollable();
    loop {
        if !wait_until(&readable, &timer) {
            return Ok(None);
        }
        for datagram in incoming.receive(1).map_err(|e| failed("receive", e))? {
            if same_peer(&datagram.remote_address, server) {
                return Ok(Some(datagram.data));
            }
            debug(&format!(
                "ignored a datagram from {}",
                addr_text(&datagram.remote_address)
            ));
        }
    }
}

export!(Client);
