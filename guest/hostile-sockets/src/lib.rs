//! `hostile-sockets`: a TCP client that opens sockets without end and keeps
//! them all.
//!
//! It stops at the first refusal and reports how many it got, so the report
//! shows socklab's `max-sockets` limit (the guest sees `new-socket-limit`)
//! rather than the host running out of file descriptors.

use socklab_guest::failed;
use socklab_guest::types::{ClientConfig, ClientReport};
use socklab_guest::wasi::sockets::network::IpAddressFamily;
use socklab_guest::wasi::sockets::tcp_create_socket::create_tcp_socket;

socklab_guest::role!("socklab:lab/tcp-client");

struct Sockets;

/// Far more than any limit socklab allows; the loop is bounded all the same.
const TRIES: usize = 1_000_000;

impl exports::socklab::lab::tcp_client_role::Guest for Sockets {
    fn run(_config: ClientConfig) -> Result<ClientReport, String> {
        let mut held = Vec::new();
        for _ in 0..TRIES {
            // socket.socket(AF_INET, SOCK_STREAM), never closed
            match create_tcp_socket(IpAddressFamily::Ipv4) {
                Ok(socket) => held.push(socket),
                Err(e) => {
                    let what = format!("create-tcp-socket after {} sockets", held.len());
                    return Err(failed(&what, e));
                }
            }
        }
        Err(format!("opened {TRIES} sockets without being refused"))
    }
}

export!(Sockets);
