//! `hostile-escape`: a TCP client that tries to step outside its grant
//! before doing its job.
//!
//! It is built against its own world, which adds UDP to the TCP client's
//! imports: the host decides roles by exports, so nothing stops a guest from
//! importing more. Each attempt below must be refused by socklab and recorded
//! as a refusal; then it runs its script honestly against the server it was
//! wired to.
//!
//! Parameters: `target=ADDR`, the forbidden peer it tries to reach (default
//! `127.0.0.1:9`); `bind=ADDR`, the local address it tries to bind (default
//! `127.0.0.1:0`, which a client is not granted: only the wildcard is).

use socklab_guest::io::{Deadline, elapsed_ns, wait_until, write_all};
use socklab_guest::tcp::TcpSocketExt;
use socklab_guest::types::{ClientConfig, ClientReport, Exchange, Reply};
use socklab_guest::udp::{UdpSocketExt, send_to};
use socklab_guest::wasi::clocks::monotonic_clock;
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::network::{IpSocketAddress, Ipv4SocketAddress};
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;
use socklab_guest::{addr_text, code_text, family_of, info, param, unspecified};

socklab_guest::role!(
    "socklab:lab/tcp-client" + "wasi:sockets/udp@0.2.12" + "wasi:sockets/udp-create-socket@0.2.12"
);

struct Escape;

impl exports::socklab::lab::tcp_client_role::Guest for Escape {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let network = instance_network();
        let target = address(param(&config.params, "target"), [127, 0, 0, 1], 9);
        let bind = address(param(&config.params, "bind"), [127, 0, 0, 1], 0);

        // 1. bind((127.0.0.1, 0)): a client is granted only the wildcard.
        let socket = create_tcp_socket(family_of(&bind)).map_err(code_text)?;
        let outcome = socket.blocking_bind(&network, bind);
        info(&format!("tried bind {}: {outcome:?}", addr_text(&bind)));
        drop(socket);

        // 2. connect(target): not the server it was wired to.
        let socket = create_tcp_socket(family_of(&target)).map_err(code_text)?;
        let outcome = socket.blocking_connect(&network, target).map(|_| ());
        info(&format!(
            "tried connect {}: {outcome:?}",
            addr_text(&target)
        ));
        drop(socket);

        // 3. sendto(target) over UDP: a TCP guest holds no UDP grant at all.
        let outcome = create_udp_socket(family_of(&target)).and_then(|socket| {
            socket.blocking_bind(&network, unspecified(family_of(&target)))?;
            let (_incoming, outgoing) = socket.stream(None)?;
            send_to(&outgoing, b"escaped".to_vec(), target).map(|_| ())
        });
        info(&format!("tried sendto {}: {outcome:?}", addr_text(&target)));

        // Then the honest part: one connection to the server, a line each.
        let socket = create_tcp_socket(family_of(&config.server)).map_err(code_text)?;
        let (input, output) = socket
            .blocking_connect(&network, config.server)
            .map_err(code_text)?;
        let mut exchanges = Vec::new();
        for mut message in config.messages {
            message.push(b'\n');
            let start = monotonic_clock::now();
            write_all(&output, &message).map_err(|e| format!("{e:?}"))?;
            let deadline = Deadline::after_ms(config.reply_timeout_ms);
            let (readable, timer) = (input.subscribe(), deadline.pollable());
            let mut reply = Vec::new();
            while !reply.ends_with(b"\n") && wait_until(&readable, &timer) {
                match input.read(4096) {
                    Ok(bytes) => reply.extend(bytes),
                    Err(_) => break,
                }
            }
            exchanges.push(Exchange {
                bytes_sent: message.len() as u64,
                reply: Reply::Complete(reply),
                rtt_ns: elapsed_ns(start),
            });
        }
        Ok(ClientReport { exchanges })
    }
}

/// Parse `a.b.c.d:port` from a parameter, or use the default.
fn address(text: Option<&str>, ip: [u8; 4], port: u16) -> IpSocketAddress {
    let parsed = text.and_then(|t| t.parse::<std::net::SocketAddrV4>().ok());
    let (ip, port) = parsed.map_or((ip, port), |a| (a.ip().octets(), a.port()));
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (ip[0], ip[1], ip[2], ip[3]),
    })
}

export!(Escape);
