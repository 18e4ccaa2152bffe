//! `hostile-spin`: a TCP client that never returns and never calls the host.
//!
//! It spins on arithmetic whose result feeds the next round (and passes
//! through `black_box`), so the optimiser cannot remove the loop. Only
//! socklab's CPU limit (or deadline) stops it; the test asserts that an honest
//! guest in the same process completes meanwhile.

use socklab_guest::types::{ClientConfig, ClientReport};

socklab_guest::role!("socklab:lab/tcp-client");

struct Spin;

impl exports::socklab::lab::tcp_client_role::Guest for Spin {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        let mut x = config.reply_timeout_ms as u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

export!(Spin);
