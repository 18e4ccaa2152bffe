//! What `probe-tcp-conformance` must print on the real network, case by
//! case, with where each expectation comes from.

/// See [`EXPECTED`](super::EXPECTED)'s use in `tests/conformance_tcp.rs`
/// for where each line's source is named.
pub const EXPECTED: &[(&str, &str)] = &[
    // --- create-tcp-socket, start-bind, finish-bind, local-address ---
    // `not-supported` and `new-socket-limit` (the latter at the end) are
    // create's two documented errors; both families exist on loopback.
    ("create-tcp-socket-ipv4", "ok"),
    ("create-tcp-socket-ipv6", "ok"),
    ("address-family-ipv4", "ok:ipv4"),
    ("address-family-ipv6", "ok:ipv6"),
    // local-address: "`invalid-state`: The socket is not bound to any local
    // address" ("WASI is stricter" than POSIX here).
    ("local-address-unbound", "error:invalid-state"),
    ("bind-port-0-ipv4", "ok"),
    ("bind-port-0-ipv6", "ok"),
    ("local-address-bound-ipv4", "ok:ip=127.0.0.1,port=*"),
    ("local-address-bound-ipv6", "ok:ip=::1,port=*"),
    // The port a closed listener had is free again at once: wasmtime-wasi
    // sets SO_REUSEADDR before every bind, as the WIT's implementors' note
    // asks ("shouldn't be affected by the TIME_WAIT state").
    ("bind-explicit-port", "ok:same-port=true"),
    // "`address-in-use`: Address is already in use (EADDRINUSE)".
    ("bind-in-use-by-listener-ipv4", "error:address-in-use"),
    ("bind-in-use-by-listener-ipv6", "error:address-in-use"),
    // Not an error (deviates from a reading of the WIT's list): with
    // SO_REUSEADDR on both sockets and neither listening, Linux lets two
    // sockets bind one address and port; the conflict comes at listen.
    ("bind-in-use-by-bound-socket", "ok"),
    // "Bind can be attempted multiple times on the same socket ... as long
    // as the previous bind failed".
    (
        "bind-after-failed-bind",
        "ok:first=address-in-use,second=ok",
    ),
    // "`invalid-state`: The socket is already bound (EINVAL)"; a listening
    // or connected socket is "bound" in the WIT's sense too.
    ("bind-twice", "error:invalid-state"),
    ("bind-listening", "error:invalid-state"),
    ("bind-connected", "error:invalid-state"),
    // Not in bind's list (deviates, within the WIT's "every API can return
    // ... `concurrency-conflict`"): wasmtime-wasi's start-bind refuses while
    // any operation is in progress (`in_progress_operation`), first.
    ("start-bind-while-in-progress", "error:concurrency-conflict"),
    // "`not-in-progress`: A `bind` operation is not in progress".
    ("finish-bind-not-started", "error:not-in-progress"),
    ("finish-bind-twice", "error:not-in-progress"),
    // "`would-block`: Can't finish the operation, it is still in progress":
    // wasmtime-wasi binds inside start-bind, so on it finish-bind is
    // always ready; the WIT allows either.
    ("finish-bind-first-call", "ok:first-finish=*"),
    // "`invalid-argument`: The `local-address` has the wrong address
    // family", "... is an IPv4-mapped IPv6 address", "... is not a unicast
    // address" (`is_valid_address_family`, `is_valid_unicast_address`).
    ("bind-wrong-family-ipv4", "error:invalid-argument"),
    ("bind-wrong-family-ipv6", "error:invalid-argument"),
    ("bind-ipv4-mapped", "error:invalid-argument"),
    ("bind-multicast-ipv4", "error:invalid-argument"),
    ("bind-multicast-ipv6", "error:invalid-argument"),
    ("bind-broadcast", "error:invalid-argument"),
    // "`address-not-bindable`: `local-address` is not an address that the
    // `network` can bind to (EADDRNOTAVAIL)": 203.0.113.1 is no address of
    // this machine (and net.ipv4.ip_nonlocal_bind is 0).
    ("bind-not-bindable", "error:address-not-bindable"),
    // --- start-connect, finish-connect ---
    ("connect-ipv4", "ok:remote-is-listener=true"),
    ("connect-ipv6", "ok:remote-is-listener=true"),
    // "`would-block`: Can't finish the operation, it is still in progress":
    // on loopback the handshake is often over by the first finish-connect.
    ("finish-connect-first-call", "ok:first-finish=*"),
    // A connect on an unbound socket binds it implicitly (the kernel picks
    // the address and an ephemeral port); an explicit bind is kept.
    ("local-address-implicit-bind-ipv4", "ok:ip=127.0.0.1,port=*"),
    ("local-address-implicit-bind-ipv6", "ok:ip=::1,port=*"),
    ("local-address-after-connect", "ok:unchanged=true"),
    // The WIT does not say (deviates from POSIX's getsockname): wasmtime-wasi
    // answers `invalid-state` for a socket in its `Connecting` state.
    ("local-address-connect-in-progress", "error:invalid-state"),
    // "`invalid-argument`: The `remote-address` has the wrong address
    // family", "... is an IPv4-mapped IPv6 address", "... is set to
    // INADDR_ANY", "The port ... is set to 0", "... is not a unicast
    // address" (multicast and broadcast), all before any system call.
    ("connect-wrong-family-ipv4", "error:invalid-argument"),
    ("connect-wrong-family-ipv6", "error:invalid-argument"),
    ("connect-ipv4-mapped", "error:invalid-argument"),
    ("connect-unspecified-ipv4", "error:invalid-argument"),
    ("connect-unspecified-ipv6", "error:invalid-argument"),
    ("connect-port-0", "error:invalid-argument"),
    ("connect-multicast", "error:invalid-argument"),
    ("connect-broadcast", "error:invalid-argument"),
    // "`connection-refused`: The connection was forcefully rejected
    // (ECONNREFUSED)": the port of a listener the probe closed.
    ("connect-refused-ipv4", "error:connection-refused"),
    ("connect-refused-ipv6", "error:connection-refused"),
    // "After a failed connection attempt, the socket will be in the `closed`
    // state ... A single socket can not be used to connect more than once":
    // start-connect is `invalid-state`, finish-connect `not-in-progress`;
    // wasmtime-wasi's `Closed` state keeps the connect's error and gives it
    // to local-address (deviates from "may always return invalid-state").
    (
        "after-refused-connect",
        "ok:connect=connection-refused,start-connect=invalid-state,finish-connect=not-in-progress,local-address=connection-refused",
    ),
    // "`invalid-state`: The socket is already in the `listening` state",
    // "... already in the `connected` state (EISCONN)".
    ("connect-listening", "error:invalid-state"),
    ("connect-connected", "error:invalid-state"),
    // Any start-* while another operation is in progress:
    // `concurrency-conflict` (EALREADY), wasmtime-wasi's first check.
    (
        "start-connect-while-in-progress",
        "error:concurrency-conflict",
    ),
    ("bind-while-connecting", "error:concurrency-conflict"),
    // "`not-in-progress`: A connect operation is not in progress".
    ("finish-connect-not-started", "error:not-in-progress"),
    ("finish-connect-twice", "error:not-in-progress"),
    // There is one network; wasmtime-wasi checks only that the handle is a
    // live network, so a second `instance-network` handle is "identical".
    ("connect-second-network-handle", "ok"),
    // --- start-listen, finish-listen ---
    ("listen-ipv4", "ok:is-listening=true"),
    ("listen-ipv6", "ok:is-listening=true"),
    // "Unlike POSIX, the socket must already be explicitly bound":
    // "`invalid-state`: The socket is not bound to any local address". (The
    // implicit bind wasmtime-wasi's listen can do is 0.3's.)
    ("listen-unbound", "error:invalid-state"),
    // "`invalid-state`: The socket is already in the `listening` state",
    // "... already in the `connected` state (EISCONN)".
    ("listen-twice", "error:invalid-state"),
    (
        "start-listen-while-in-progress",
        "error:concurrency-conflict",
    ),
    // "`not-in-progress`: A listen operation is not in progress".
    ("finish-listen-not-started", "error:not-in-progress"),
    ("finish-listen-twice", "error:not-in-progress"),
    ("listen-connected", "error:invalid-state"),
    ("listen-keeps-address", "ok:unchanged=true"),
    // --- accept ---
    // "`invalid-state`: Socket is not in the `listening` state (EINVAL)".
    ("accept-fresh", "error:invalid-state"),
    ("accept-bound", "error:invalid-state"),
    // Deviates: between start-listen and finish-listen the socket is
    // `listen-in-progress`, not `listening`, but wasmtime-wasi listens in
    // start-listen, so accept already answers as a listener would.
    ("accept-listen-in-progress", "error:would-block"),
    // "`would-block`: No pending connections at the moment".
    ("accept-nothing-pending", "error:would-block"),
    // "The returned socket is bound and in the `connected` state", of the
    // listener's address family.
    (
        "accept-ipv4",
        "ok:local-is-listener=true,remote-is-client=true,family=ipv4,is-listening=false",
    ),
    (
        "accept-ipv6",
        "ok:local-is-listener=true,remote-is-client=true,family=ipv6,is-listening=false",
    ),
    (
        "accept-two-then-none",
        "ok:first=ok,second=ok,third=would-block",
    ),
    // --- remote-address, is-listening, subscribe ---
    // "`invalid-state`: The socket is not connected to a remote address
    // (ENOTCONN)".
    ("remote-address-fresh", "error:invalid-state"),
    ("remote-address-bound", "error:invalid-state"),
    ("remote-address-listening", "error:invalid-state"),
    (
        "is-listening-otherwise",
        "ok:fresh=false,bound=false,connected=false",
    ),
    // TcpSocketOperationalSemantics' pollable readiness: with nothing in
    // progress the pollable is ready at once; a listener's when an accept
    // would not block; a connecting socket's when finish-connect would not.
    ("subscribe-idle", "ok:ready=true"),
    (
        "subscribe-listener",
        "ok:nothing-pending=false,pending=true",
    ),
    ("subscribe-connect", "ok:ready=true,finish-connect=ok"),
    // --- options ---
    // The WIT sets no defaults; Linux's are SO_KEEPALIVE off, TCP_KEEPIDLE
    // 7200 s, TCP_KEEPINTVL 75 s, TCP_KEEPCNT 9, TTL and hops 64.
    ("keep-alive-enabled", "ok:false"),
    ("set-keep-alive-enabled-true", "ok:true"),
    ("set-keep-alive-enabled-false", "ok:false"),
    // "If the provided value is 0, an `invalid-argument` error is returned.
    // Any other value ... might be silently clamped and/or rounded":
    // wasmtime-wasi clamps durations to 1 s ..= i16::MAX s (Linux's
    // ceiling, `clamp_keep_alive_time`) and counts to 1 ..= 127
    // (`clamp_keep_alive_count`).
    ("keep-alive-idle-time", "ok:s=7200"),
    ("set-keep-alive-idle-time-0", "error:invalid-argument"),
    ("set-keep-alive-idle-time-30s", "ok:s=30"),
    ("set-keep-alive-idle-time-1ns", "ok:s=1"),
    ("set-keep-alive-idle-time-max", "ok:s=32767"),
    ("keep-alive-interval", "ok:s=75"),
    ("set-keep-alive-interval-0", "error:invalid-argument"),
    ("set-keep-alive-interval-30s", "ok:s=30"),
    ("set-keep-alive-interval-1ns", "ok:s=1"),
    ("set-keep-alive-interval-max", "ok:s=32767"),
    ("keep-alive-count", "ok:9"),
    ("set-keep-alive-count-0", "error:invalid-argument"),
    ("set-keep-alive-count-5", "ok:5"),
    ("set-keep-alive-count-max", "ok:127"),
    // "`invalid-argument`: (set) The TTL value must be 1 or higher".
    ("hop-limit-ipv4", "ok:64"),
    ("hop-limit-ipv6", "ok:64"),
    ("set-hop-limit-0-ipv4", "error:invalid-argument"),
    ("set-hop-limit-0-ipv6", "error:invalid-argument"),
    ("set-hop-limit-1", "ok:1"),
    ("set-hop-limit-255-ipv6", "ok:255"),
    // The WIT does not say: wasmtime-wasi has no descriptor to ask while
    // its connect future owns the socket (`as_fd`: `invalid-state`).
    ("hop-limit-connect-in-progress", "error:invalid-state"),
    // "`invalid-argument`: (set) The provided value was 0"; any other value
    // "might be silently clamped and/or rounded": wasmtime-wasi halves what
    // Linux reads back (Linux doubles what is set).
    ("receive-buffer-size", "ok:buffer=*"),
    ("set-receive-buffer-size-0", "error:invalid-argument"),
    ("set-receive-buffer-size-65536", "ok:buffer=*"),
    ("set-receive-buffer-size-max", "ok:buffer=*"),
    ("send-buffer-size", "ok:buffer=*"),
    ("set-send-buffer-size-0", "error:invalid-argument"),
    ("set-send-buffer-size-65536", "ok:buffer=*"),
    ("set-send-buffer-size-max", "ok:buffer=*"),
    // set-listen-backlog-size: "`invalid-argument`: (set) The provided value
    // was 0"; other values clamped (to i32::MAX); "`not-supported`: ... does
    // not support changing the backlog size after the initial listen" is
    // not Linux (a second listen() changes it); "`invalid-state`: (set) The
    // socket is in the `connect-in-progress` or `connected` state".
    ("set-listen-backlog-size-0", "error:invalid-argument"),
    ("set-listen-backlog-size-fresh", "ok"),
    ("set-listen-backlog-size-max", "ok"),
    ("set-listen-backlog-size-listening", "ok"),
    ("set-listen-backlog-size-connected", "error:invalid-state"),
    ("set-listen-backlog-size-then-listen", "ok:listening=true"),
    // accept: "The following properties are inherited from the listener
    // socket: ... `keep-alive-enabled`, `keep-alive-idle-time`,
    // `keep-alive-interval`, `keep-alive-count`, `hop-limit`" (Linux copies
    // them to the accepted socket itself).
    (
        "accept-inherits-options",
        "ok:keep-alive=true,idle-s=100,interval-s=20,count=4,hop-limit=33",
    ),
    // --- streams, shutdown ---
    ("echo-ipv4", "ok:len=5,intact=true"),
    ("echo-ipv6", "ok:len=5,intact=true"),
    ("echo-64kib", "ok:len=65536,intact=true"),
    ("bulk-1mib", "ok:len=1048576,intact=true"),
    // wasi:io `read`: a 0-byte read, and a read with nothing there, return
    // an empty list at once ("a non-blocking read").
    ("read-zero", "ok:0"),
    ("read-nothing-pending", "ok:0"),
    // The permit is the implementation's: wasmtime-wasi 48 gives 64 KiB
    // (MAX_READ_SIZE_ALLOC) whenever the socket is writable.
    ("check-write-ready", "ok:65536"),
    ("write-empty", "ok:peer-read=nothing"),
    // The peer's FIN after its data: the data, then end-of-stream (`closed`).
    ("peer-closes", "ok:data=true,then=closed"),
    // shutdown: "`receive`: ... The `input-stream` associated with this
    // socket will be closed"; "`send`: ... The `output-stream` ... will be
    // closed and a FIN packet will be sent"; "`both`: Same effect as
    // `receive` & `send` combined".
    ("shutdown-receive", "ok:write=ok,read=closed,peer-read=data"),
    (
        "shutdown-send",
        "ok:write=closed,read=nothing,peer-read=closed",
    ),
    (
        "shutdown-both",
        "ok:write=closed,read=closed,peer-read=closed",
    ),
    // "This function is idempotent; shutting down a direction more than
    // once has no effect and returns `ok`".
    ("shutdown-twice", "ok"),
    // A half-close: the peer reads the data, then the end, and can still
    // answer on its own direction.
    (
        "half-close",
        "ok:peer-got=true,peer-then=closed,answer=true",
    ),
    ("shutdown-accepted", "ok:peer-read=closed"),
    // "`invalid-state`: The socket is not in the `connected` state
    // (ENOTCONN)".
    ("shutdown-fresh", "error:invalid-state"),
    ("shutdown-bound", "error:invalid-state"),
    ("shutdown-listening", "error:invalid-state"),
    // --- the sandbox: uses GRANTS refuses ---
    // A bind, a listen or a connect the rules refuse is `access-denied` (one
    // of the WIT's always-possible codes), decided before the system call.
    ("bind-denied-address", "error:access-denied"),
    ("listen-denied-address", "error:access-denied"),
    // wasmtime-wasi checks a connect's grants inside the connect future
    // start-connect creates, so start-connect says `ok` and the refusal
    // comes from finish-connect.
    ("start-connect-denied-port", "ok"),
    ("connect-denied-port", "error:access-denied"),
    ("connect-denied-address", "error:access-denied"),
    // An accept the rules refuse is never seen by the guest: wasmtime-wasi
    // resets the connection (zero linger) and waits for the next one, so
    // accept stays `would-block` and the client's read fails (ECONNRESET).
    (
        "accept-from-denied-peer",
        "ok:connected=true,accept=would-block,then=nothing,client-read=failed",
    ),
    // --- limits ---
    // socklab's `--max-connections 1`: a second open connection is closed
    // before the guest sees it (accept says `would-block`), its client
    // reads the end of the stream.
    (
        "accept-past-connection-limit",
        "ok:accept=would-block,client-read=closed",
    ),
    // create-tcp-socket: "`new-socket-limit`: ... because of a system limit
    // (EMFILE, ENFILE)": socklab's `--max-sockets 16`, with no other socket
    // held; then accept's own "`new-socket-limit`" for the socket it would
    // make.
    ("sockets-before-limit", "ok:16"),
    ("create-past-socket-limit", "error:new-socket-limit"),
    ("accept-past-socket-limit", "error:new-socket-limit"),
];
