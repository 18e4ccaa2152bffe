//! `hostile-trap`: a TCP client that panics with a message, which becomes a
//! trap. socklab must report the message, not just "unreachable".

use socklab_guest::types::{ClientConfig, ClientReport};

socklab_guest::role!("socklab:lab/tcp-client");

struct Trap;

impl exports::socklab::lab::tcp_client_role::Guest for Trap {
    fn run(config: ClientConfig) -> Result<ClientReport, String> {
        panic!(
            "hostile-trap gives up on purpose after {} message(s)",
            config.messages.len()
        );
    }
}

export!(Trap);
