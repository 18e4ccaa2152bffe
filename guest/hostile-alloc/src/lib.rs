//! `hostile-alloc`: a TCP client that allocates memory without end.
//!
//! Each round takes another MiB and writes to every page of it, so the
//! memory is really committed. Only socklab's memory limit stops it.

use socklab_guest::types::{ClientConfig, ClientReport};

socklab_guest::role!("socklab:lab/tcp-client");

struct Alloc;

impl exports::socklab::lab::tcp_client_role::Guest for Alloc {
    fn run(_config: ClientConfig) -> Result<ClientReport, String> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; 1 << 20];
            for page in block.chunks_mut(4096) {
                page[0] = 1;
            }
            hoard.push(std::hint::black_box(block));
        }
    }
}

export!(Alloc);
