//! UDP conformance: the `probe-udp-conformance` guest runs one case per
//! (UDP or name-lookup function, documented error code) of the
//! wasi:sockets 0.2.12 WIT, plus the success cases around them, and the
//! sandbox's refusals under the grants below; every line is held to what the
//! WIT and wasmtime-wasi 48 say.
//!
//! This is the yardstick of the simulated network: [`probe`] runs the same
//! guest on either network, the real one is held to [`EXPECTED`], and the
//! simulated one to the real one, case by case, with only [`INHERENT`]
//! differences allowed (the simulated run inside `unshare -n`, so that it
//! could not reach a real socket even by mistake).

mod common;

use common::*;

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
/// its reason: a result's `key=value` pair with one of these keys is
/// compared as `key=*` (once the value is checked to be plausible).
const INHERENT: &[(&str, &str)] = &[
    (
        "port",
        "which free port an ephemeral bind gets is the network's choice",
    ),
    (
        "buffer",
        "kernel buffer sizes: the default, the rounding and the ceiling (rmem_max, wmem_max) are the system's",
    ),
    (
        "addresses",
        "what `localhost` resolves to is the machine's /etc/hosts (127.0.0.1, ::1 or both)",
    ),
    (
        "first-call",
        "whether a lookup is still running at the first resolve-next-address is timing",
    ),
];

/// Run `probe-udp-conformance` on `network` under [`GRANTS`] and return its
/// `(case, result)` lines in order.
///
/// `None` is socklab's default, the real network. `Some(name)` passes
/// `--network NAME` to `socklab run` beside the grants, inside `unshare -n`
/// where it can.
///
/// Panics, with everything the guest printed, if it does not exit 0 within
/// [`WAIT`] or prints a line that is not `CASE ok`, `CASE ok:VALUE` or
/// `CASE error:CODE`.
fn probe(network: Option<&str>) -> Vec<(String, String)> {
    let mut args = vec!["run", "probe-udp-conformance"];
    if let Some(network) = network {
        args.extend(["--network", network]);
    }
    args.extend(GRANTS);
    let out = match network {
        Some(_) => socklab_offline(&args).finish(),
        None => socklab(&args).finish(),
    };
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|line| {
            let parsed = line.split_once(' ').filter(|(case, result)| {
                !case.is_empty()
                    && (*result == "ok"
                        || result.starts_with("ok:")
                        || result.starts_with("error:"))
            });
            let Some((case, result)) = parsed else {
                panic!("not a `CASE RESULT` line: {line:?}\n{out}");
            };
            (case.to_string(), result.to_string())
        })
        .collect()
}

/// `result` with each [`INHERENT`] value replaced by `*`, after checking it
/// is a value that key can have; `Err` says why it cannot.
fn normalize(result: &str) -> Result<String, String> {
    let Some((head, value)) = result.split_once(':') else {
        return Ok(result.to_string());
    };
    let mut pairs = Vec::new();
    for pair in value.split(',') {
        let Some((key, v)) = pair.split_once('=') else {
            pairs.push(pair.to_string());
            continue;
        };
        if !INHERENT.iter().any(|&(k, _)| k == key) {
            pairs.push(pair.to_string());
            continue;
        }
        let plausible = match key {
            "port" => v.parse::<u16>().is_ok_and(|p| p != 0),
            "buffer" => v.parse::<u64>().is_ok_and(|b| b > 0),
            "addresses" => !v.is_empty(),
            _ => ["would-block", "ready"].contains(&v),
        };
        if !plausible {
            return Err(format!("`{pair}` is no value `{key}` can have"));
        }
        pairs.push(format!("{key}=*"));
    }
    Ok(format!("{head}:{}", pairs.join(",")))
}

/// Every case in the probe's order, with its result on the real network
/// (wasmtime-wasi 48 on Linux loopback), [`INHERENT`] values as `*`.
///
/// The comments say where each result comes from: the WIT's `# Typical
/// errors` (quoted by code), or wasmtime-wasi 48's source
/// (`src/sockets/udp.rs`, `src/p2/host/udp.rs`, `src/p2/udp.rs`,
/// `src/sockets/ip_name_lookup.rs`) where the WIT leaves a choice or says
/// otherwise ("deviates").
const EXPECTED: &[(&str, &str)] = &[
    // --- network, udp-create-socket ---
    ("instance-network", "ok"),
    // `not-supported` and `new-socket-limit` (the latter at the end) are
    // create's two documented errors; both families exist on loopback.
    ("create-udp-socket-ipv4", "ok"),
    ("create-udp-socket-ipv6", "ok"),
    ("address-family-ipv4", "ok:ipv4"),
    ("address-family-ipv6", "ok:ipv6"),
    // --- start-bind, finish-bind, local-address ---
    // local-address: "`invalid-state`: The socket is not bound".
    ("local-address-unbound", "error:invalid-state"),
    ("bind-port-0-ipv4", "ok"),
    ("bind-port-0-ipv6", "ok"),
    ("local-address-bound-ipv4", "ok:ip=127.0.0.1,port=*"),
    ("local-address-bound-ipv6", "ok:ip=::1,port=*"),
    ("bind-explicit-port", "ok:same-port=true"),
    // "`address-in-use`: Address is already in use": wasmtime-wasi sets no
    // SO_REUSEADDR on UDP sockets, so a second bind always fails.
    ("bind-address-in-use-ipv4", "error:address-in-use"),
    ("bind-address-in-use-ipv6", "error:address-in-use"),
    // "`invalid-state`: The socket is already bound".
    ("bind-twice", "error:invalid-state"),
    // Not in bind's list (deviates, within the WIT's "every API can return
    // ... `concurrency-conflict`"): wasmtime-wasi binds for real inside
    // start-bind and answers a second start-bind before finish-bind with
    // `concurrency-conflict`, before it looks at the socket's state.
    ("start-bind-while-in-progress", "error:concurrency-conflict"),
    // "`not-in-progress`: A `bind` operation is not in progress"; since the
    // bind happened in start-bind, finish-bind never says `would-block`.
    ("finish-bind-not-started", "error:not-in-progress"),
    ("finish-bind-twice", "error:not-in-progress"),
    // "`invalid-argument`: The `local-address` has the wrong address family".
    ("bind-wrong-family-ipv4", "error:invalid-argument"),
    ("bind-wrong-family-ipv6", "error:invalid-argument"),
    // The WIT says only that IPv6 sockets are IPV6_V6ONLY; wasmtime-wasi's
    // `is_valid_address_family` refuses IPv4-mapped (and deprecated
    // IPv4-compatible) addresses on them outright, as `invalid-argument`.
    ("bind-ipv4-mapped", "error:invalid-argument"),
    // --- stream, remote-address ---
    // "`invalid-state`: The socket is not bound" ("Unlike in POSIX, the
    // socket must already be explicitly bound"): no implicit bind, with or
    // without a remote address, so stream's "`address-in-use`: Tried to
    // perform an implicit bind" cannot happen in 0.2.
    ("stream-unbound", "error:invalid-state"),
    ("stream-unbound-with-remote", "error:invalid-state"),
    // "`invalid-argument`: The `remote-address` has the wrong address
    // family", "... is set to INADDR_ANY", "The port ... is set to 0"; and
    // IPv4-mapped refused as for bind.
    ("stream-remote-wrong-family", "error:invalid-argument"),
    ("stream-remote-unspecified-ipv4", "error:invalid-argument"),
    ("stream-remote-unspecified-ipv6", "error:invalid-argument"),
    ("stream-remote-port-0", "error:invalid-argument"),
    ("stream-remote-ipv4-mapped", "error:invalid-argument"),
    ("stream-connected", "ok:remote-is-peer=true"),
    // remote-address: "`invalid-state`: The socket is not streaming to a
    // specific remote address (ENOTCONN)"; also after `stream(none)`
    // dissolved the association.
    ("remote-address-unconnected", "error:invalid-state"),
    ("local-address-after-connect", "ok:unchanged=true"),
    ("stream-disconnect", "error:invalid-state"),
    ("stream-reconnect", "ok:remote-is-second-peer=true"),
    // --- check-send, send ---
    // The WIT leaves the permit to the implementation; wasmtime-wasi 48
    // says 16 (its MAX_DATAGRAMS) whenever no earlier send is pending.
    ("check-send-fresh", "ok:16"),
    // "If the input list is empty, the function returns `ok(0)`", before
    // any permit is looked at.
    ("send-empty-list", "ok:0"),
    // "`invalid-argument`: The socket is not "connected" and no value for
    // `remote-address` was provided (EDESTADDRREQ)". wasmtime-wasi checks
    // this itself: its errno table would have made EDESTADDRREQ
    // `invalid-state`.
    ("send-no-address-unconnected", "error:invalid-argument"),
    // "wrong address family", "INADDR_ANY", "port ... 0"; IPv4-mapped too.
    ("send-wrong-family", "error:invalid-argument"),
    ("send-unspecified-ipv4", "error:invalid-argument"),
    ("send-port-0", "error:invalid-argument"),
    ("send-ipv4-mapped", "error:invalid-argument"),
    // "`invalid-argument`: The socket is in "connected" mode and
    // `remote-address` is `some` value that does not match (EISCONN)".
    ("send-connected-other-address", "error:invalid-argument"),
    ("send-connected-same-address", "ok:1"),
    ("send-connected-no-address", "ok:1"),
    ("send-to-peer-ipv4", "ok:1"),
    ("send-to-peer-ipv6", "ok:1"),
    ("send-zero-length", "ok:1"),
    // "`datagram-too-large`: The datagram is too large (EMSGSIZE)": the
    // kernel's limits are 65,507 bytes over IPv4 and 65,527 over IPv6;
    // wasmtime-wasi refuses more than 65,535 itself, before it even looks
    // at the address.
    ("send-max-ipv4", "ok:1"),
    ("send-over-max-ipv4", "error:datagram-too-large"),
    ("send-max-ipv6", "ok:1"),
    ("send-over-max-ipv6", "error:datagram-too-large"),
    ("send-over-64kib", "error:datagram-too-large"),
    // Twenty datagrams over two permits (16, then 4).
    ("send-many", "ok:20"),
    // --- receive ---
    // "returns successfully with an empty list when either `max-results`
    // is 0, or ... no results are immediately available".
    ("receive-zero", "ok:0"),
    ("receive-nothing-pending", "ok:0"),
    // incoming-datagram: `remote-address` is "the `src_addr` out
    // parameter of `recvfrom`": the sender's bound address.
    (
        "round-trip-unconnected",
        "ok:len=4,intact=true,from-sender=true",
    ),
    (
        "round-trip-zero-length",
        "ok:len=0,intact=true,from-sender=true",
    ),
    (
        "round-trip-max-ipv4",
        "ok:len=65507,intact=true,from-sender=true",
    ),
    ("round-trip-connected", "ok:ping=true,pong=true"),
    // "`receive` will only return datagrams sent from the provided
    // `remote-address`": Linux drops the other peer's datagram on arrival,
    // and wasmtime-wasi filters again in case one was queued before.
    ("connected-filters-other-peers", "ok:first-from=a"),
    // "may contain fewer elements than requested": wasmtime-wasi 48 returns
    // at most 16 per call (MAX_DATAGRAMS), so 16 of the 20 queued.
    ("receive-many", "ok:16"),
    // "`connection-refused`: The connection was refused (ECONNREFUSED)": a
    // connected socket's send to a closed port; the ICMP port-unreachable
    // comes back on the next receive.
    ("receive-after-refused", "error:connection-refused"),
    // --- options ---
    // The WIT sets no default; Linux's is 64 for both families.
    ("unicast-hop-limit-ipv4", "ok:64"),
    ("unicast-hop-limit-ipv6", "ok:64"),
    // "`invalid-argument`: (set) The TTL value must be 1 or higher".
    ("set-unicast-hop-limit-0-ipv4", "error:invalid-argument"),
    ("set-unicast-hop-limit-0-ipv6", "error:invalid-argument"),
    ("set-unicast-hop-limit-1", "ok:1"),
    ("set-unicast-hop-limit-255-ipv6", "ok:255"),
    // "`invalid-argument`: (set) The provided value was 0"; any other value
    // "might be silently clamped and/or rounded". wasmtime-wasi halves
    // what Linux reads back (Linux doubles what is set), so 65536 reads
    // back as 65536; u64::MAX is clamped to i32::MAX, then to the system's
    // ceiling.
    ("receive-buffer-size", "ok:buffer=*"),
    ("set-receive-buffer-size-0", "error:invalid-argument"),
    ("set-receive-buffer-size-65536", "ok:buffer=*"),
    ("set-receive-buffer-size-max", "ok:buffer=*"),
    ("send-buffer-size", "ok:buffer=*"),
    ("set-send-buffer-size-0", "error:invalid-argument"),
    ("set-send-buffer-size-65536", "ok:buffer=*"),
    ("set-send-buffer-size-max", "ok:buffer=*"),
    // --- ip-name-lookup ---
    ("resolve-localhost", "ok"),
    ("resolve-localhost-includes-127.0.0.1", "ok:true"),
    ("resolve-localhost-addresses", "ok:addresses=*"),
    // resolve-next-address: "`would-block`: A result is not available yet":
    // wasmtime-wasi looks names up on a blocking thread, so usually so.
    ("resolve-localhost-first-call", "ok:first-call=*"),
    // "If the input is an IP address string, the address is parsed and
    // returned as-is"; then "If all addresses have been exhausted, this
    // function returns `none`", and keeps doing so.
    (
        "resolve-ipv4-literal",
        "ok:first=127.0.0.1,then=none,then=none",
    ),
    // "`invalid-argument`: `name` is a syntactically invalid domain name":
    // wasmtime-wasi answers it from resolve-addresses itself (the WIT
    // allows that: "It either immediately fails or ...").
    ("resolve-invalid-name", "error:invalid-argument"),
    // --- the sandbox: uses GRANTS refuses ---
    // A bind, a send or a connect the rules refuse is `access-denied` (one
    // of the WIT's always-possible codes), decided before any system call.
    ("bind-denied-address", "error:access-denied"),
    ("send-denied-port", "error:access-denied"),
    ("send-denied-address", "error:access-denied"),
    ("stream-denied-ipv6", "error:access-denied"),
    // A datagram from a peer the rules refuse is dropped silently: the send
    // succeeds, the receiver sees nothing.
    ("receive-from-denied-peer-ipv6", "ok:sent=1,nothing"),
    // socklab checks names against its `dns=` rules before wasmtime-wasi
    // sees them (wasmtime-wasi's own switch would say
    // `permanent-resolver-failure`).
    ("resolve-denied-name", "error:access-denied"),
    // --- limits ---
    // create-udp-socket: "`new-socket-limit`: The new socket resource could
    // not be created because of a system limit (EMFILE, ENFILE)": socklab's
    // `--max-sockets 16`, with no other socket held.
    ("sockets-before-limit", "ok:16"),
    ("create-past-socket-limit", "error:new-socket-limit"),
];

#[test]
fn real_network_matches_the_wit() {
    let got = probe(None);
    let listing = || {
        got.iter()
            .map(|(case, result)| format!("  {case} {result}\n"))
            .collect::<String>()
    };
    let got_names: Vec<&str> = got.iter().map(|(c, _)| c.as_str()).collect();
    let want_names: Vec<&str> = EXPECTED.iter().map(|&(c, _)| c).collect();
    assert_eq!(
        got_names,
        want_names,
        "the probe's cases, in order; it printed:\n{}",
        listing()
    );
    let mismatches: Vec<String> = got
        .iter()
        .zip(EXPECTED)
        .filter_map(|((case, result), &(_, want))| match normalize(result) {
            Ok(seen) if seen == want => None,
            Ok(seen) => Some(format!("  {case}: expected {want}, got {result} ({seen})")),
            Err(why) => Some(format!("  {case}: {result}: {why}")),
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from the WIT and wasmtime-wasi 48:\n{}\nthe probe printed:\n{}",
        mismatches.len(),
        EXPECTED.len(),
        mismatches.join("\n"),
        listing()
    );
}

#[test]
fn simulated_network_matches_the_real_one_case_by_case() {
    let real = probe(None);
    let simulated = probe(Some("simulated"));
    let mut table = String::from("  case | real | simulated\n");
    let mut differ = Vec::new();
    for (i, (case, on_real)) in real.iter().enumerate() {
        let on_sim = simulated
            .get(i)
            .filter(|(c, _)| c == case)
            .map(|(_, r)| r.as_str());
        table.push_str(&format!(
            "  {case} | {on_real} | {}\n",
            on_sim.unwrap_or("(missing)")
        ));
        let same =
            on_sim.is_some_and(|r| normalize(r).is_ok() && normalize(r) == normalize(on_real));
        if !same {
            differ.push(case.as_str());
        }
    }
    eprintln!("{table}");
    assert_eq!(
        real.len(),
        simulated.len(),
        "the same cases on both networks:\n{table}"
    );
    assert!(
        differ.is_empty(),
        "{} of {} cases differ between the networks beyond the inherent differences: {differ:?}\n{table}",
        differ.len(),
        real.len()
    );
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
