//! What `probe-udp-conformance` must print on the real network, case by
//! case, with where each expectation comes from.

/// See [`EXPECTED`](super::EXPECTED)'s use in `tests/conformance.rs` for
/// where each line's source is named.
pub const EXPECTED: &[(&str, &str)] = &[
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
