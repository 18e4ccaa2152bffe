//! `wasi03-hostile`: the hostile guests of WASI 0.2 (`hostile-spin`,
//! `hostile-alloc`, `hostile-sockets`) in one WASI 0.3 TCP client, so that
//! the limits are tested on 0.3's async path too. The parameter `op` says
//! how it misbehaves:
//!
//! - `spin`: arithmetic without end that never calls the host (only
//!   `--cpu-limit` or `--deadline` stops it);
//! - `alloc`: another MiB each round, every page written (only
//!   `--memory-limit` stops it);
//! - `sockets`: TCP sockets opened and kept until one is refused (the
//!   guest sees `max-sockets` as `other("new-socket-limit")` and says so).

use socklab_guest03::types::{ClientConfig, ClientReport};
use socklab_guest03::wasi::sockets::types::{IpAddressFamily, TcpSocket};
use socklab_guest03::{failed, param};

socklab_guest03::role!("socklab:lab/tcp-client@0.2.0");

struct Hostile;

/// Far more sockets than any limit socklab allows; the loop is bounded all
/// the same.
const TRIES: usize = 1_000_000;

impl exports::socklab::lab::tcp_client_role::Guest for Hostile {
    async fn run(config: ClientConfig) -> Result<ClientReport, String> {
        match param(&config.params, "op").unwrap_or("spin") {
            "spin" => {
                let mut x = u64::from(config.reply_timeout_ms);
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = vec![0u8; 1 << 20];
                    for page in block.chunks_mut(4096) {
                        page[0] = 1;
                    }
                    hoard.push(std::hint::black_box(block));
                }
            }
            "sockets" => {
                let mut held = Vec::new();
                for _ in 0..TRIES {
                    // socket.socket(AF_INET, SOCK_STREAM), never closed
                    match TcpSocket::create(IpAddressFamily::Ipv4) {
                        Ok(socket) => held.push(socket),
                        Err(e) => {
                            let what = format!("tcp-socket.create after {} sockets", held.len());
                            return Err(failed(&what, e));
                        }
                    }
                }
                Err(format!("opened {TRIES} sockets without being refused"))
            }
            other => Err(format!("unknown op `{other}`")),
        }
    }
}

export!(Hostile);
