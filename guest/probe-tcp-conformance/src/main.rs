//! `probe-tcp-conformance`: a wasi:cli command that runs one case per
//! (TCP or tcp-create-socket function, documented error code) of the
//! wasi:sockets 0.2.12 WIT, plus the success cases around them, between its
//! own sockets on its own loopback (`127.0.0.1` and `::1`; `127.0.0.3` as
//! the address the grants leave out).
//!
//! Each case prints exactly one line, `CASE RESULT`, in a fixed order:
//! `ok`, `ok:VALUE`, or `error:CODE` (the WIT's kebab-case name). Values
//! that differ between implementations for good reasons are printed as
//! `key=value` pairs the test allow-lists (`port=`, `buffer=`,
//! `first-finish=`). It exits 0 once every case has printed.
//!
//! `tests/conformance_tcp.rs` runs it with the grants it needs (bind on
//! either loopback, on `127.0.0.3` and on `203.0.113.1`; listen on and
//! accept from either loopback; connect to ports 1024 and up;
//! `--max-connections 1`, `--max-sockets 16`) and holds the lines to what
//! the WIT and wasmtime-wasi 48 say; the cases under "the sandbox" are the
//! uses those grants refuse.
//!
//! # Layout
//! - `net.rs`: addresses, bound, listening and connected sockets, bounded
//!   waits, reads and writes.
//! - `socket_cases.rs`: create, bind, local address, family.
//! - `conn_cases.rs`: connect, listen, accept, remote address, subscribe.
//! - `option_cases.rs`: keep-alive, hop limit, buffers, backlog, inheritance.
//! - `stream_cases.rs`: the two streams and `shutdown`.
//! - `sandbox_cases.rs`: the grants' refusals and socklab's limits.
//!
//! # Not covered, and why
//! - Calls WASI answers with a trap, not an error code (`write` past the
//!   `check-write` permit, dropping a socket before its streams): a trap
//!   ends the command.
//! - Errors loopback cannot produce: `not-supported` at create (both
//!   families exist) and for a backlog change after listen (Linux allows
//!   it), `address-in-use` for exhausted ephemeral ports, `timeout`,
//!   `remote-unreachable`, `connection-aborted` (a client that gives up
//!   before the accept: WASI has no `SO_LINGER` to make it reset), and a
//!   `connection-reset` on a stream the probe could provoke itself (the
//!   refused accept below is the host's reset, seen as a failed read).

mod conn_cases;
mod net;
mod option_cases;
mod sandbox_cases;
mod socket_cases;
mod stream_cases;

use conn_cases as conn;
use net::{Ipv4, Ipv6, Outcome, mapped, v4, v4_of, v6, v6_of};
use option_cases::{self as opt, Buffer, KeepAlive, SECOND, When};
use sandbox_cases as sandbox;
use socket_cases as sock;
use stream_cases as st;

fn main() {
    creation_and_bind();
    connecting();
    listening();
    accept_and_addresses();
    options();
    streams();
    the_sandbox();
}

/// `create-tcp-socket`, `start-bind`/`finish-bind`, `local-address`.
fn creation_and_bind() {
    case("create-tcp-socket-ipv4", sock::create(Ipv4));
    case("create-tcp-socket-ipv6", sock::create(Ipv6));
    case("address-family-ipv4", sock::address_family(Ipv4));
    case("address-family-ipv6", sock::address_family(Ipv6));
    case("local-address-unbound", sock::local_address_unbound());
    case("bind-port-0-ipv4", sock::bind_port_0(Ipv4));
    case("bind-port-0-ipv6", sock::bind_port_0(Ipv6));
    case("local-address-bound-ipv4", sock::local_address_bound(Ipv4));
    case("local-address-bound-ipv6", sock::local_address_bound(Ipv6));
    case("bind-explicit-port", sock::bind_explicit_port());
    case(
        "bind-in-use-by-listener-ipv4",
        sock::bind_in_use_by_listener(Ipv4),
    );
    case(
        "bind-in-use-by-listener-ipv6",
        sock::bind_in_use_by_listener(Ipv6),
    );
    case("bind-in-use-by-bound-socket", sock::bind_in_use_by_bound());
    case("bind-after-failed-bind", sock::bind_after_failed_bind());
    case("bind-twice", sock::bind_twice());
    case("bind-listening", sock::bind_listening());
    case("bind-connected", sock::bind_connected());
    case(
        "start-bind-while-in-progress",
        sock::start_bind_while_in_progress(),
    );
    case("finish-bind-not-started", sock::finish_bind_not_started());
    case("finish-bind-twice", sock::finish_bind_twice());
    case("finish-bind-first-call", sock::finish_bind_first_call());
    case("bind-wrong-family-ipv4", sock::bind_to(Ipv4, v6(0)));
    case("bind-wrong-family-ipv6", sock::bind_to(Ipv6, v4(0)));
    case("bind-ipv4-mapped", sock::bind_to(Ipv6, mapped(0)));
    case(
        "bind-multicast-ipv4",
        sock::bind_to(Ipv4, v4_of((224, 0, 0, 1), 0)),
    );
    case(
        "bind-multicast-ipv6",
        sock::bind_to(Ipv6, v6_of((0xff02, 0, 0, 0, 0, 0, 0, 1), 0)),
    );
    case(
        "bind-broadcast",
        sock::bind_to(Ipv4, v4_of((255, 255, 255, 255), 0)),
    );
    case(
        "bind-not-bindable",
        sock::bind_to(Ipv4, v4_of((203, 0, 113, 1), 0)),
    );
}

/// `start-connect`/`finish-connect`.
fn connecting() {
    case("connect-ipv4", conn::connect_ok(Ipv4));
    case("connect-ipv6", conn::connect_ok(Ipv6));
    case(
        "finish-connect-first-call",
        conn::finish_connect_first_call(),
    );
    case(
        "local-address-implicit-bind-ipv4",
        sock::local_address_implicit_bind(Ipv4),
    );
    case(
        "local-address-implicit-bind-ipv6",
        sock::local_address_implicit_bind(Ipv6),
    );
    case(
        "local-address-after-connect",
        sock::local_address_after_connect(),
    );
    case(
        "local-address-connect-in-progress",
        conn::local_address_connecting(),
    );
    case("connect-wrong-family-ipv4", conn::connect_to(Ipv4, v6(9)));
    case("connect-wrong-family-ipv6", conn::connect_to(Ipv6, v4(9)));
    case("connect-ipv4-mapped", conn::connect_to(Ipv6, mapped(9)));
    case(
        "connect-unspecified-ipv4",
        conn::connect_to(Ipv4, v4_of((0, 0, 0, 0), 9)),
    );
    case(
        "connect-unspecified-ipv6",
        conn::connect_to(Ipv6, v6_of((0, 0, 0, 0, 0, 0, 0, 0), 9)),
    );
    case("connect-port-0", conn::connect_to(Ipv4, v4(0)));
    case(
        "connect-multicast",
        conn::connect_to(Ipv4, v4_of((224, 0, 0, 1), 9)),
    );
    case(
        "connect-broadcast",
        conn::connect_to(Ipv4, v4_of((255, 255, 255, 255), 9)),
    );
    case("connect-refused-ipv4", conn::connect_refused(Ipv4));
    case("connect-refused-ipv6", conn::connect_refused(Ipv6));
    case("after-refused-connect", conn::after_refused());
    case("connect-listening", conn::connect_listening());
    case("connect-connected", conn::connect_connected());
    case(
        "start-connect-while-in-progress",
        conn::start_connect_while_in_progress(),
    );
    case("bind-while-connecting", conn::bind_while_connecting());
    case(
        "finish-connect-not-started",
        conn::finish_connect_not_started(),
    );
    case("finish-connect-twice", conn::finish_connect_twice());
    case(
        "connect-second-network-handle",
        conn::connect_second_network_handle(),
    );
}

/// `start-listen`/`finish-listen`.
fn listening() {
    case("listen-ipv4", conn::listen_bound(Ipv4));
    case("listen-ipv6", conn::listen_bound(Ipv6));
    case("listen-unbound", conn::listen_unbound());
    case("listen-twice", conn::listen_twice());
    case(
        "start-listen-while-in-progress",
        conn::start_listen_while_in_progress(),
    );
    case(
        "finish-listen-not-started",
        conn::finish_listen_not_started(),
    );
    case("finish-listen-twice", conn::finish_listen_twice());
    case("listen-connected", conn::listen_connected());
    case("listen-keeps-address", conn::listen_keeps_address());
}

/// `accept`, `remote-address`, `is-listening`, `subscribe`.
fn accept_and_addresses() {
    case("accept-fresh", conn::accept_not_listening(false));
    case("accept-bound", conn::accept_not_listening(true));
    case(
        "accept-listen-in-progress",
        conn::accept_listen_in_progress(),
    );
    case("accept-nothing-pending", conn::accept_nothing_pending());
    case("accept-ipv4", conn::accept_ok(Ipv4));
    case("accept-ipv6", conn::accept_ok(Ipv6));
    case("accept-two-then-none", conn::accept_two_then_none());
    case("remote-address-fresh", conn::remote_address_of("fresh"));
    case("remote-address-bound", conn::remote_address_of("bound"));
    case(
        "remote-address-listening",
        conn::remote_address_of("listening"),
    );
    case("is-listening-otherwise", conn::is_listening_not());
    case("subscribe-idle", conn::subscribe_idle());
    case("subscribe-listener", conn::subscribe_listener());
    case("subscribe-connect", conn::subscribe_connect());
}

/// Keep-alive, hop limit, buffer sizes, backlog, and what accept inherits.
fn options() {
    case("keep-alive-enabled", opt::keep_alive_default());
    case("set-keep-alive-enabled-true", opt::keep_alive_set(true));
    case("set-keep-alive-enabled-false", opt::keep_alive_set(false));
    for (name, which) in [
        ("idle-time", KeepAlive::IdleTime),
        ("interval", KeepAlive::Interval),
    ] {
        case(&format!("keep-alive-{name}"), opt::time_default(which));
        case(&format!("set-keep-alive-{name}-0"), opt::time_set(which, 0));
        case(
            &format!("set-keep-alive-{name}-30s"),
            opt::time_set(which, 30 * SECOND),
        );
        case(
            &format!("set-keep-alive-{name}-1ns"),
            opt::time_set(which, 1),
        );
        case(
            &format!("set-keep-alive-{name}-max"),
            opt::time_set(which, u64::MAX),
        );
    }
    case("keep-alive-count", opt::count_default());
    case("set-keep-alive-count-0", opt::count_set(0));
    case("set-keep-alive-count-5", opt::count_set(5));
    case("set-keep-alive-count-max", opt::count_set(u32::MAX));
    case("hop-limit-ipv4", opt::hop_limit_default(Ipv4));
    case("hop-limit-ipv6", opt::hop_limit_default(Ipv6));
    case("set-hop-limit-0-ipv4", opt::hop_limit_set(Ipv4, 0));
    case("set-hop-limit-0-ipv6", opt::hop_limit_set(Ipv6, 0));
    case("set-hop-limit-1", opt::hop_limit_set(Ipv4, 1));
    case("set-hop-limit-255-ipv6", opt::hop_limit_set(Ipv6, 255));
    case("hop-limit-connect-in-progress", opt::hop_limit_connecting());
    for (name, which) in [("receive", Buffer::Receive), ("send", Buffer::Send)] {
        case(&format!("{name}-buffer-size"), opt::buffer_default(which));
        case(
            &format!("set-{name}-buffer-size-0"),
            opt::buffer_set(which, 0),
        );
        case(
            &format!("set-{name}-buffer-size-65536"),
            opt::buffer_set(which, 65_536),
        );
        case(
            &format!("set-{name}-buffer-size-max"),
            opt::buffer_set(which, u64::MAX),
        );
    }
    case(
        "set-listen-backlog-size-0",
        opt::backlog_set(When::Fresh, 0),
    );
    case(
        "set-listen-backlog-size-fresh",
        opt::backlog_set(When::Fresh, 10),
    );
    case(
        "set-listen-backlog-size-max",
        opt::backlog_set(When::Fresh, u64::MAX),
    );
    case(
        "set-listen-backlog-size-listening",
        opt::backlog_set(When::Listening, 10),
    );
    case(
        "set-listen-backlog-size-connected",
        opt::backlog_set(When::Connected, 10),
    );
    case(
        "set-listen-backlog-size-then-listen",
        opt::backlog_then_listen(),
    );
    case("accept-inherits-options", opt::accept_inherits());
}

/// The two streams and `shutdown`.
fn streams() {
    case("echo-ipv4", st::echo(Ipv4, 5));
    case("echo-ipv6", st::echo(Ipv6, 5));
    case("echo-64kib", st::echo(Ipv4, 65_536));
    case("bulk-1mib", st::bulk(1 << 20));
    case("read-zero", st::read_zero());
    case("read-nothing-pending", st::read_nothing_pending());
    case("check-write-ready", st::check_write_ready());
    case("write-empty", st::write_empty());
    case("peer-closes", st::peer_closes());
    case("shutdown-receive", st::shutdown_receive());
    case("shutdown-send", st::shutdown_send());
    case("shutdown-both", st::shutdown_both());
    case("shutdown-twice", st::shutdown_twice());
    case("half-close", st::half_close());
    case("shutdown-accepted", st::shutdown_accepted());
    case("shutdown-fresh", st::shutdown_not_connected("fresh"));
    case("shutdown-bound", st::shutdown_not_connected("bound"));
    case(
        "shutdown-listening",
        st::shutdown_not_connected("listening"),
    );
}

/// The uses the grants refuse, then the limits: last, as they hold every
/// socket they can make.
fn the_sandbox() {
    case(
        "bind-denied-address",
        sock::bind_to(Ipv4, v4_of((127, 0, 0, 2), 0)),
    );
    case("listen-denied-address", sandbox::listen_denied());
    case(
        "start-connect-denied-port",
        sandbox::start_connect_denied(v4(9)),
    );
    case("connect-denied-port", sandbox::connect_denied(v4(9)));
    case(
        "connect-denied-address",
        sandbox::connect_denied(v4_of((127, 0, 0, 2), 4000)),
    );
    case("accept-from-denied-peer", sandbox::accept_denied_peer());
    case(
        "accept-past-connection-limit",
        sandbox::accept_past_connection_limit(),
    );
    let mut held = Vec::new();
    case(
        "sockets-before-limit",
        sock::sockets_before_limit(&mut held),
    );
    case("create-past-socket-limit", sock::past_socket_limit(&held));
    case(
        "accept-past-socket-limit",
        sandbox::accept_past_socket_limit(&mut held),
    );
}

/// Print one case's line: `NAME ok`, `NAME ok:VALUE` or `NAME error:CODE`.
fn case(name: &str, outcome: Outcome) {
    match outcome {
        Ok(value) if value.is_empty() => println!("{name} ok"),
        Ok(value) => println!("{name} ok:{value}"),
        Err(code) => println!("{name} error:{}", code.name()),
    }
}
