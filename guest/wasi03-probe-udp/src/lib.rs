//! `wasi03-probe-udp`: `probe-udp` on WASI 0.3 — makes the one UDP call its
//! parameters name, so the grant tests put every UDP operation through the
//! real `wasi:sockets/types@0.3.0` path.
//!
//! Parameters: `op` is `bind`, `send`, `receive` or `tcp` (a TCP socket's
//! creation, which a UDP role is refused); `target=ADDR` is the destination
//! for `send`; `wait-ms` how long `receive` takes datagrams (default 2000).
//! `bind` and `receive` use the config's listen address; `send` binds the
//! wildcard address with port 0 first.
//!
//! The report's `sessions` counts what succeeded (1 for a bind, a send or a
//! socket; datagrams received); a refused call is the error, named by its
//! `error-code` as `probe-udp` names it (`bind: access-denied`).

use std::pin::pin;

use futures::future::{Either, select};
use socklab_guest03::types::{ServerConfig, ServerReport};
use socklab_guest03::wasi::clocks::monotonic_clock;
use socklab_guest03::wasi::sockets::types::{TcpSocket, UdpSocket};
use socklab_guest03::{failed, family_of, from_std, host, param, unspecified};

socklab_guest03::role!("socklab:lab/udp-server@0.2.0");

struct Probe;

impl exports::socklab::lab::udp_server_role::Guest for Probe {
    async fn serve(config: ServerConfig) -> Result<ServerReport, String> {
        let op = param(&config.params, "op").unwrap_or("bind");
        let sessions = match op {
            "bind" | "receive" => bind_and_receive(op, &config).await?,
            "send" => {
                let text = param(&config.params, "target").ok_or("send needs target=ADDR")?;
                let addr: std::net::SocketAddr =
                    text.parse().map_err(|_| format!("bad target `{text}`"))?;
                let target = from_std(addr);
                // socket(AF_INET, SOCK_DGRAM), bound to the wildcard
                let socket =
                    UdpSocket::create(family_of(&target)).map_err(|e| failed("socket", e))?;
                socket
                    .bind(unspecified(family_of(&target)))
                    .map_err(|e| failed("bind", e))?;
                // client_sock.sendto(b'probe', (host, port))
                socket
                    .send(b"probe".to_vec(), Some(target))
                    .await
                    .map_err(|e| failed("send", e))?;
                1
            }
            "tcp" => {
                // socket(AF_INET, SOCK_STREAM): a UDP role gets access-denied.
                TcpSocket::create(family_of(&config.listen)).map_err(|e| failed("socket", e))?;
                1
            }
            other => return Err(format!("unknown op `{other}`")),
        };
        Ok(ServerReport {
            sessions,
            bytes_in: 0,
            bytes_out: 0,
        })
    }
}

/// `bind`, then `receive` for as long as `wait-ms` (or until the host asks
/// it to stop), stopping at the step `op` names: how many datagrams came.
async fn bind_and_receive(op: &str, config: &ServerConfig) -> Result<u64, String> {
    let socket = UdpSocket::create(family_of(&config.listen)).map_err(|e| failed("socket", e))?;
    // server_sock.bind((host, port))
    socket.bind(config.listen).map_err(|e| failed("bind", e))?;
    let stop = host::stop_requested();
    let local = socket
        .get_local_address()
        .map_err(|e| failed("get-local-address", e))?;
    host::listening(local);
    if op == "bind" {
        return Ok(1);
    }
    let wait_ns = param(&config.params, "wait-ms")
        .and_then(|w| w.parse::<u64>().ok())
        .unwrap_or(2000)
        * 1_000_000;
    let deadline = monotonic_clock::now().saturating_add(wait_ns);
    let stop = pin!(stop.into_future());
    let timer = pin!(monotonic_clock::wait_until(deadline));
    let mut ended = select(stop, timer);
    let mut count = 0;
    loop {
        // recvfrom() until the wait is over; refused senders never show up.
        match select(pin!(socket.receive()), &mut ended).await {
            Either::Left((Ok(_), _)) => count += 1,
            Either::Left((Err(e), _)) => return Err(failed("receive", e)),
            Either::Right(_) => return Ok(count),
        }
    }
}

export!(Probe);
