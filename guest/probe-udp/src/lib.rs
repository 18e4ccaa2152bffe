//! `probe-udp`: makes the one UDP call its parameters name, so the grant
//! tests can put every UDP operation through the real WASI path.
//!
//! Parameters: `op` is `bind`, `send` or `receive`; `target=ADDR` the
//! destination for `send`; `wait-ms` how long `receive` waits (default
//! 2000); `say=TEXT` prints TEXT on stdout first. `bind` and `receive` use the config's listen address; `send` binds
//! the wildcard address with port 0 first.
//!
//! The report's `sessions` counts what succeeded (1 for a bind or a send;
//! datagrams received); a refused call is the error, named by its
//! `error-code`.

use socklab_guest::io::Deadline;
use socklab_guest::types::{ServerConfig, ServerReport};
use socklab_guest::udp::{UdpSocketExt, send_to};
use socklab_guest::wasi::io::poll::poll;
use socklab_guest::wasi::sockets::instance_network::instance_network;
use socklab_guest::wasi::sockets::udp_create_socket::create_udp_socket;
use socklab_guest::{failed, family_of, host, param, unspecified};

// The UDP server's world, plus the clock for `wait-ms`.
socklab_guest::role!("socklab:lab/udp-server" + "wasi:clocks/monotonic-clock@0.2.12");

struct Probe;

impl exports::socklab::lab::udp_server_role::Guest for Probe {
    fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let network = instance_network();
        // `say=TEXT` prints TEXT on stdout first, for the tests of how a
        // guest's own output is shown.
        if let Some(text) = param(&config.params, "say") {
            println!("{text}");
        }
        let op = param(&config.params, "op").unwrap_or("bind");
        let sessions = match op {
            "bind" | "receive" => {
                let socket = create_udp_socket(family_of(&config.listen))
                    .map_err(|e| failed("socket", e))?;
                // server_sock.bind((host, port))
                socket
                    .blocking_bind(&network, config.listen)
                    .map_err(|e| failed("bind", e))?;
                let stop = host::stop_requested();
                host::listening(
                    socket
                        .local_address()
                        .map_err(|e| failed("local-address", e))?,
                );
                if op == "bind" {
                    return Ok(report(1));
                }
                let (incoming, _outgoing) = socket.stream(None).map_err(|e| failed("stream", e))?;
                let wait: u32 = param(&config.params, "wait-ms")
                    .and_then(|w| w.parse().ok())
                    .unwrap_or(2000);
                let ready = incoming.subscribe();
                let timer = Deadline::after_ms(wait).pollable();
                let mut received = 0;
                // recvfrom() until the wait is over; refused senders never show up.
                while poll(&[&ready, &stop, &timer]).contains(&0) {
                    received += incoming
                        .receive(16)
                        .map_err(|e| failed("receive", e))?
                        .len() as u64;
                }
                received
            }
            "send" => {
                let text = param(&config.params, "target").ok_or("send needs target=ADDR")?;
                let addr: std::net::SocketAddr =
                    text.parse().map_err(|_| format!("bad target `{text}`"))?;
                let target = socklab_guest::from_std(addr);
                let socket =
                    create_udp_socket(family_of(&target)).map_err(|e| failed("socket", e))?;
                socket
                    .blocking_bind(&network, unspecified(family_of(&target)))
                    .map_err(|e| failed("bind", e))?;
                let (_incoming, outgoing) = socket.stream(None).map_err(|e| failed("stream", e))?;
                // client_sock.sendto(b'probe', (host, port))
                send_to(&outgoing, b"probe".to_vec(), target).map_err(|e| failed("send", e))?;
                1
            }
            other => return Err(format!("unknown op `{other}`")),
        };
        Ok(report(sessions))
    }
}

fn report(sessions: u64) -> ServerReport {
    ServerReport {
        sessions,
        bytes_in: 0,
        bytes_out: 0,
    }
}

export!(Probe);
