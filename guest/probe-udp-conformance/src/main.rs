//! `probe-udp-conformance`: a wasi:cli command that runs one case per
//! (UDP or name-lookup function, documented error code) of the
//! wasi:sockets 0.2.12 WIT, plus the success cases around them, between its
//! own sockets on its own loopback (`127.0.0.1` and `::1`, nothing else).
//!
//! Each case prints exactly one line, `CASE RESULT`, in a fixed order:
//! `ok`, `ok:VALUE`, or `error:CODE` (the WIT's kebab-case name). Values
//! that differ between implementations for good reasons are printed as
//! `key=value` pairs the test allow-lists (`port=`, `buffer=`,
//! `addresses=`, `first-call=`). It exits 0 once every case has printed.
//!
//! `tests/conformance.rs` runs it with the grants it needs (loopback UDP,
//! sends to ports 1024 and up, receives from `127.0.0.1` only, names under
//! `localhost`, `--max-sockets 16`) and holds the lines to what the WIT and
//! wasmtime-wasi 48 say; the cases under "the sandbox" are the uses those
//! grants refuse.
//!
//! # Layout
//! - `net.rs`: addresses, bound sockets, bounded waits, sends and receives.
//! - `socket_cases.rs`: create, bind, local address, family, options.
//! - `stream_cases.rs`: `stream` (connect), `check-send`, `send`, `receive`.
//! - `lookup_cases.rs`: `resolve-addresses`, `resolve-next-address`.
//!
//! # Not covered, and why
//! - Calls WASI answers with a trap, not an error code (`send` past the
//!   `check-send` permit, `stream` again while the old streams live): a
//!   trap ends the command (`tests/run.rs` covers the first).
//! - Errors loopback cannot produce: `not-supported` (both families exist),
//!   `address-not-bindable` (needs an address that is not the machine's;
//!   the probe binds loopback only), `address-in-use` for exhausted
//!   ephemeral ports, `remote-unreachable`, and `name-unresolvable`,
//!   `temporary-resolver-failure`, `permanent-resolver-failure` (a name
//!   that does not exist would be asked of a real resolver).

mod lookup_cases;
mod net;
mod socket_cases;
mod stream_cases;

/// `wasi:sockets/ip-name-lookup`, which the shared bindings leave out (the
/// std guests import an older version of it); its network and pollable
/// are the shared ones.
mod lookup {
    wit_bindgen::generate!({
        path: "../../wit",
        inline: "package socklab:probe; world lookup {
            import wasi:sockets/ip-name-lookup@0.2.12;
        }",
        world: "socklab:probe/lookup",
        with: {
            "wasi:io/poll@0.2.12": socklab_guest::wasi::io::poll,
            "wasi:sockets/network@0.2.12": socklab_guest::wasi::sockets::network,
            "wasi:sockets/ip-name-lookup@0.2.12": generate,
        },
    });
}

use lookup_cases as dns;
use net::{Ipv4, Ipv6, Outcome, mapped, v4, v4_of, v6, v6_of};
use socket_cases::{self as sock, Buffer};
use stream_cases::{self as st, Target};

fn main() {
    // --- network, udp-create-socket ---
    case("instance-network", {
        let _network = net::network();
        Ok(String::new())
    });
    case("create-udp-socket-ipv4", sock::create(Ipv4));
    case("create-udp-socket-ipv6", sock::create(Ipv6));
    case("address-family-ipv4", sock::address_family(Ipv4));
    case("address-family-ipv6", sock::address_family(Ipv6));

    // --- start-bind, finish-bind, local-address ---
    case("local-address-unbound", sock::local_address_unbound());
    case("bind-port-0-ipv4", sock::bind_port_0(Ipv4));
    case("bind-port-0-ipv6", sock::bind_port_0(Ipv6));
    case("local-address-bound-ipv4", sock::local_address_bound(Ipv4));
    case("local-address-bound-ipv6", sock::local_address_bound(Ipv6));
    case("bind-explicit-port", sock::bind_explicit_port());
    case("bind-address-in-use-ipv4", sock::bind_address_in_use(Ipv4));
    case("bind-address-in-use-ipv6", sock::bind_address_in_use(Ipv6));
    case("bind-twice", sock::bind_twice());
    case(
        "start-bind-while-in-progress",
        sock::start_bind_while_in_progress(),
    );
    case("finish-bind-not-started", sock::finish_bind_not_started());
    case("finish-bind-twice", sock::finish_bind_twice());
    case("bind-wrong-family-ipv4", sock::bind_wrong_family(Ipv4));
    case("bind-wrong-family-ipv6", sock::bind_wrong_family(Ipv6));
    case("bind-ipv4-mapped", sock::bind_ipv4_mapped());

    // --- stream, remote-address ---
    case("stream-unbound", st::stream_unbound(None));
    case(
        "stream-unbound-with-remote",
        st::stream_unbound(Some(v4(9))),
    );
    case("stream-remote-wrong-family", st::stream_to(Ipv4, v6(9)));
    case(
        "stream-remote-unspecified-ipv4",
        st::stream_to(Ipv4, v4_of((0, 0, 0, 0), 9)),
    );
    case(
        "stream-remote-unspecified-ipv6",
        st::stream_to(Ipv6, v6_of((0, 0, 0, 0, 0, 0, 0, 0), 9)),
    );
    case("stream-remote-port-0", st::stream_to(Ipv4, v4(0)));
    case("stream-remote-ipv4-mapped", st::stream_to(Ipv6, mapped(9)));
    case("stream-connected", st::stream_connected(Ipv4));
    case(
        "remote-address-unconnected",
        st::remote_address_unconnected(),
    );
    case(
        "local-address-after-connect",
        st::local_address_after_connect(),
    );
    case("stream-disconnect", st::stream_disconnect());
    case("stream-reconnect", st::stream_reconnect());

    // --- check-send, send ---
    case("check-send-fresh", st::check_send_fresh());
    case("send-empty-list", st::send_empty_list());
    case(
        "send-no-address-unconnected",
        st::send_unconnected(Ipv4, None, 8),
    );
    case(
        "send-wrong-family",
        st::send_unconnected(Ipv4, Some(v6(9)), 8),
    );
    case(
        "send-unspecified-ipv4",
        st::send_unconnected(Ipv4, Some(v4_of((0, 0, 0, 0), 9)), 8),
    );
    case("send-port-0", st::send_unconnected(Ipv4, Some(v4(0)), 8));
    case(
        "send-ipv4-mapped",
        st::send_unconnected(Ipv6, Some(mapped(9)), 8),
    );
    case(
        "send-connected-other-address",
        st::send_connected(Target::Other),
    );
    case(
        "send-connected-same-address",
        st::send_connected(Target::Peer),
    );
    case(
        "send-connected-no-address",
        st::send_connected(Target::None),
    );
    case("send-to-peer-ipv4", st::send_to_peer(Ipv4, 8));
    case("send-to-peer-ipv6", st::send_to_peer(Ipv6, 8));
    case("send-zero-length", st::send_to_peer(Ipv4, 0));
    case("send-max-ipv4", st::send_to_peer(Ipv4, 65_507));
    case("send-over-max-ipv4", st::send_to_peer(Ipv4, 65_508));
    case("send-max-ipv6", st::send_to_peer(Ipv6, 65_527));
    case("send-over-max-ipv6", st::send_to_peer(Ipv6, 65_528));
    case("send-over-64kib", st::send_to_peer(Ipv4, 65_536));
    case("send-many", st::send_many_to_peer());

    // --- receive ---
    case("receive-zero", st::receive_zero());
    case("receive-nothing-pending", st::receive_nothing_pending());
    case("round-trip-unconnected", st::round_trip_unconnected(4));
    case("round-trip-zero-length", st::round_trip_unconnected(0));
    case("round-trip-max-ipv4", st::round_trip_unconnected(65_507));
    case("round-trip-connected", st::round_trip_connected());
    case(
        "connected-filters-other-peers",
        st::connected_filters_other_peers(),
    );
    case("receive-many", st::receive_many());
    case("receive-after-refused", st::receive_after_refused());

    // --- options ---
    case("unicast-hop-limit-ipv4", sock::hop_limit_default(Ipv4));
    case("unicast-hop-limit-ipv6", sock::hop_limit_default(Ipv6));
    case("set-unicast-hop-limit-0-ipv4", sock::hop_limit_set(Ipv4, 0));
    case("set-unicast-hop-limit-0-ipv6", sock::hop_limit_set(Ipv6, 0));
    case("set-unicast-hop-limit-1", sock::hop_limit_set(Ipv4, 1));
    case(
        "set-unicast-hop-limit-255-ipv6",
        sock::hop_limit_set(Ipv6, 255),
    );
    case("receive-buffer-size", sock::buffer_default(Buffer::Receive));
    case(
        "set-receive-buffer-size-0",
        sock::buffer_set(Buffer::Receive, 0),
    );
    case(
        "set-receive-buffer-size-65536",
        sock::buffer_set(Buffer::Receive, 65_536),
    );
    case(
        "set-receive-buffer-size-max",
        sock::buffer_set(Buffer::Receive, u64::MAX),
    );
    case("send-buffer-size", sock::buffer_default(Buffer::Send));
    case("set-send-buffer-size-0", sock::buffer_set(Buffer::Send, 0));
    case(
        "set-send-buffer-size-65536",
        sock::buffer_set(Buffer::Send, 65_536),
    );
    case(
        "set-send-buffer-size-max",
        sock::buffer_set(Buffer::Send, u64::MAX),
    );

    // --- ip-name-lookup ---
    case("resolve-localhost", dns::resolve("localhost"));
    case(
        "resolve-localhost-includes-127.0.0.1",
        dns::includes("localhost", "127.0.0.1"),
    );
    case("resolve-localhost-addresses", dns::addresses("localhost"));
    case("resolve-localhost-first-call", dns::first_call("localhost"));
    case("resolve-ipv4-literal", dns::literal("127.0.0.1"));
    case("resolve-invalid-name", dns::resolve("bad name.localhost"));

    // --- the sandbox: uses the grants refuse ---
    case("bind-denied-address", sock::bind_denied_address());
    case("send-denied-port", st::send_denied(v4(9)));
    case(
        "send-denied-address",
        st::send_denied(v4_of((127, 0, 0, 2), 4000)),
    );
    case("stream-denied-ipv6", st::stream_denied(Ipv6));
    case(
        "receive-from-denied-peer-ipv6",
        st::receive_from_denied_peer(Ipv6),
    );
    case("resolve-denied-name", dns::resolve("example.com"));

    // --- limits: last, as they hold every socket they can make ---
    let mut held = Vec::new();
    case(
        "sockets-before-limit",
        sock::sockets_before_limit(&mut held),
    );
    case("create-past-socket-limit", sock::past_socket_limit(&held));
}

/// Print one case's line: `NAME ok`, `NAME ok:VALUE` or `NAME error:CODE`.
fn case(name: &str, outcome: Outcome) {
    match outcome {
        Ok(value) if value.is_empty() => println!("{name} ok"),
        Ok(value) => println!("{name} ok:{value}"),
        Err(code) => println!("{name} error:{}", code.name()),
    }
}
