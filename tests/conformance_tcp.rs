//! TCP conformance: the `probe-tcp-conformance` guest runs one case per
//! (TCP or tcp-create-socket function, documented error code) of the
//! wasi:sockets 0.2.12 WIT, plus the success cases around them, and the
//! sandbox's refusals and limits under the grants below; every line is held
//! to what the WIT and wasmtime-wasi 48 say.
//!
//! This is the yardstick the simulated network's TCP is held to: [`probe`]
//! runs the same guest on either network, the real one is held to
//! [`EXPECTED`], and the simulated one to the real one, case by case, with
//! only [`INHERENT`] differences allowed (the simulated run inside
//! `unshare -n`, so that it could not reach a real socket even by mistake).

mod common;

use common::conformance::{self, Inherent, a_buffer, a_port, a_timing};

/// The grants the probe runs with, and why each is what it is:
/// - bind on either loopback (ports 0 and explicit ones), on `127.0.0.3`
///   (the address no listen or accept rule names) and on `203.0.113.1`
///   (TEST-NET-3, no address of the machine: `bind-not-bindable` must reach
///   the kernel); `bind-denied-address` binds `127.0.0.2`;
/// - listen on either loopback: `listen-denied-address` listens on
///   `127.0.0.3`;
/// - connect to either loopback, ports 1024 and up: `connect-denied-port`
///   connects to port 9, `connect-denied-address` to `127.0.0.2`;
/// - accept from either loopback: a client bound to `127.0.0.3` is refused
///   (`accept-from-denied-peer`);
/// - `--max-connections 1`, for `accept-past-connection-limit`, and
///   `--max-sockets 16`, for the socket limit's cases.
const GRANTS: &[&str] = &[
    "--allow",
    "tcp-bind=localhost:*",
    "--allow",
    "tcp-bind=127.0.0.3:*",
    "--allow",
    "tcp-bind=203.0.113.1:*",
    "--allow",
    "tcp-listen=localhost:*",
    "--allow",
    "tcp-connect=localhost:1024-65535",
    "--allow",
    "tcp-accept=localhost:*",
    "--max-connections",
    "1",
    "--max-sockets",
    "16",
];

/// Values that may differ between two correct implementations, each with
/// its reason and the values it can have.
const INHERENT: &[Inherent] = &[
    Inherent {
        key: "port",
        why: "which free port an ephemeral bind (explicit or implicit) gets is the network's choice",
        plausible: a_port,
    },
    Inherent {
        key: "buffer",
        why: "kernel buffer sizes: the default (tcp_rmem, tcp_wmem), the rounding and the ceiling are the system's",
        plausible: a_buffer,
    },
    Inherent {
        key: "first-finish",
        why: "whether a bind or a handshake is over by the first finish-* call (or still would-block) is timing",
        plausible: a_timing,
    },
];

/// Run `probe-tcp-conformance` on `network` (`None`: the real one) under
/// [`GRANTS`]: its `(case, result)` lines in order.
fn probe(network: Option<&str>) -> Vec<(String, String)> {
    conformance::probe("probe-tcp-conformance", GRANTS, network)
}

/// Every case in the probe's order, with its result on the real network
/// (wasmtime-wasi 48 on Linux loopback), [`INHERENT`] values as `*`.
///
/// The comments say where each result comes from: the WIT's `# Typical
/// errors` (quoted by code), or wasmtime-wasi 48's source
/// (`src/sockets/tcp.rs`, `src/p2/host/tcp.rs`, `src/p2/tcp.rs`,
/// `src/sockets/mod.rs`) where the WIT leaves a choice or says otherwise
/// ("deviates").
#[path = "conformance_tcp/expected.rs"]
mod expected;
use expected::EXPECTED;

#[test]
fn real_network_matches_the_wit() {
    conformance::assert_matches_expected(&probe(None), EXPECTED, INHERENT);
}

#[test]
fn simulated_network_matches_the_real_one_case_by_case() {
    let real = probe(None);
    let simulated = probe(Some("simulated"));
    conformance::assert_same_case_by_case(&real, &simulated, INHERENT);
}

#[test]
fn normalize_allows_only_the_inherent_values() {
    let normalize = |r| conformance::normalize(r, INHERENT);
    assert_eq!(
        normalize("ok:ip=::1,port=40123").as_deref(),
        Ok("ok:ip=::1,port=*")
    );
    assert_eq!(normalize("ok:buffer=8192").as_deref(), Ok("ok:buffer=*"));
    assert_eq!(
        normalize("ok:first-finish=would-block").as_deref(),
        Ok("ok:first-finish=*")
    );
    assert_eq!(normalize("ok:s=7200").as_deref(), Ok("ok:s=7200"));
    assert!(normalize("ok:ip=127.0.0.1,port=0").is_err());
    assert!(normalize("ok:first-finish=soon").is_err());
}
