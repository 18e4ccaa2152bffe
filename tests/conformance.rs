//! UDP conformance: the `probe-udp-conformance` guest runs one case per
//! (UDP or name-lookup function, documented error code) of the
//! wasi:sockets 0.2.12 WIT, plus the success cases around them, and the
//! sandbox's refusals under the grants below; every line is held to what the
//! WIT and wasmtime-wasi 48 say.
//!
//! This is the yardstick of the simulated network and of socklab's own UDP
//! on the real one: [`probe`] runs the same guest on either network, the
//! real one is held to [`EXPECTED`] with either UDP (socklab's, the
//! default, and wasmtime-wasi's), and the simulated one and socklab's UDP
//! to the real one with wasmtime-wasi's, case by case, with only
//! [`INHERENT`] differences allowed (the simulated run inside `unshare -n`, so that it
//! could not reach a real socket even by mistake).

mod common;

use common::conformance::{self, Inherent, a_buffer, a_port, a_timing};

/// The grants the probe runs with, and why each is what it is:
/// - bind anywhere on either loopback (ports 0 and explicit ones);
/// - send to either loopback, ports 1024 and up: `send-denied-port` sends
///   to port 9, `send-denied-address` to `127.0.0.2`;
/// - receive from the IPv4 loopback only: `stream-denied-ipv6` (a connect
///   needs both send and receive) and `receive-from-denied-peer-ipv6` (a
///   datagram dropped before the guest sees it) are refused;
/// - look up `localhost`, names under it (the malformed
///   `bad name.localhost` reaches the parser) and the literal
///   `127.0.0.1`; `example.com` is refused;
/// - `--max-sockets 16`, for `create-past-socket-limit`.
const GRANTS: &[&str] = &[
    "--allow",
    "udp-bind=localhost:*",
    "--allow",
    "udp-send=localhost:1024-65535",
    "--allow",
    "udp-receive=127.0.0.1:*",
    "--allow",
    "dns=localhost,*.localhost,127.0.0.1",
    "--max-sockets",
    "16",
];

/// Values that may differ between two correct implementations, each with
/// its reason and the values it can have.
const INHERENT: &[Inherent] = &[
    Inherent {
        key: "port",
        why: "which free port an ephemeral bind gets is the network's choice",
        plausible: a_port,
    },
    Inherent {
        key: "buffer",
        why: "kernel buffer sizes: the default, the rounding and the ceiling (rmem_max, wmem_max) are the system's",
        plausible: a_buffer,
    },
    Inherent {
        key: "addresses",
        why: "what `localhost` resolves to is the machine's /etc/hosts (127.0.0.1, ::1 or both)",
        plausible: |v| !v.is_empty(),
    },
    Inherent {
        key: "first-call",
        why: "whether a lookup is still running at the first resolve-next-address is timing",
        plausible: a_timing,
    },
];

/// Run `probe-udp-conformance` on `network` (`None`: the real one) under
/// [`GRANTS`]: its `(case, result)` lines in order.
fn probe(network: Option<&str>) -> Vec<(String, String)> {
    conformance::probe("probe-udp-conformance", GRANTS, network)
}

/// `result` with each [`INHERENT`] value as `*`.
fn normalize(result: &str) -> Result<String, String> {
    conformance::normalize(result, INHERENT)
}

/// Every case in the probe's order, with its result on the real network
/// (wasmtime-wasi 48 on Linux loopback), [`INHERENT`] values as `*`.
///
/// The comments say where each result comes from: the WIT's `# Typical
/// errors` (quoted by code), or wasmtime-wasi 48's source
/// (`src/sockets/udp.rs`, `src/p2/host/udp.rs`, `src/p2/udp.rs`,
/// `src/sockets/ip_name_lookup.rs`) where the WIT leaves a choice or says
/// otherwise ("deviates").
#[path = "conformance/expected.rs"]
mod expected;
use expected::EXPECTED;

#[test]
fn real_network_matches_the_wit() {
    conformance::assert_matches_expected(&probe(None), EXPECTED, INHERENT);
}

/// wasmtime-wasi 48's own UDP (`--udp-sockets wasmtime-wasi`) is the
/// yardstick socklab's own UDP was written to: it is held to the same
/// expected lines, and socklab's (the default) to it, case by case.
#[test]
fn socklab_udp_matches_wasmtime_wasi_udp_case_by_case() {
    let grants = [GRANTS, &["--udp-sockets", "wasmtime-wasi"]].concat();
    let wasmtime = conformance::probe("probe-udp-conformance", &grants, None);
    conformance::assert_matches_expected(&wasmtime, EXPECTED, INHERENT);
    conformance::assert_same_case_by_case(&wasmtime, &probe(None), INHERENT);
}

#[test]
fn simulated_network_matches_the_real_one_case_by_case() {
    let real = probe(None);
    let simulated = probe(Some("simulated"));
    conformance::assert_same_case_by_case(&real, &simulated, INHERENT);
}

#[test]
fn normalize_allows_only_the_inherent_values() {
    assert_eq!(
        normalize("ok:ip=::1,port=40123").as_deref(),
        Ok("ok:ip=::1,port=*")
    );
    assert_eq!(normalize("ok:buffer=212992").as_deref(), Ok("ok:buffer=*"));
    assert_eq!(
        normalize("error:invalid-state").as_deref(),
        Ok("error:invalid-state")
    );
    assert_eq!(
        normalize("ok:len=4,intact=true").as_deref(),
        Ok("ok:len=4,intact=true")
    );
    assert!(
        normalize("ok:ip=127.0.0.1,port=0").is_err(),
        "port 0 is no bound port"
    );
    assert!(normalize("ok:buffer=0").is_err());
    assert!(normalize("ok:first-call=maybe").is_err());
}
