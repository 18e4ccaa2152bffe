//! The limits hold for WASI 0.3 guests as they hold for 0.2 ones: the
//! hostile guests' misbehaviour on 0.3's async path (`wasi03-hostile`,
//! `op=spin|alloc|sockets`), each beside an honest exchange in the same
//! process, stopped or refused by the limit it runs into (named in its
//! record, with the same words as for 0.2), while the honest exchange
//! completes. (0.2's are `tests/hostile.rs`.) And `--max-connections` on an
//! honest 0.3 server, whose accepted connections come through the stream
//! its `listen` returns.
//!
//! Run with `--nocapture` to see how long each limit took to stop its guest.

mod common;

use std::time::Duration;

use common::hostile::*;
use socklab::limits::Limits;

/// `wasi03-hostile` misbehaving as `op` under `limits` beside an honest
/// exchange.
async fn hostile03(op: &str, limits: Limits) -> Contained {
    let (_listener, server) = nowhere();
    beside_honest("wasi03-hostile", server, limits, &[("op", op.to_string())]).await
}

// One worker thread: the spinner and the honest exchange share it, so the
// exchange completes only if the 0.3 spinner yields too.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn tcp_wasi03_hostile_spin_stopped_by_cpu_limit_while_honest_exchange_completes() {
    let cpu = Duration::from_millis(500);
    let limits = Limits {
        cpu,
        ..Limits::default()
    };
    let c = hostile03("spin", limits).await;
    assert_limit(&c.record, "cpu-limit", "500ms", true);
    assert!(
        c.honest_first,
        "the honest exchange waited for the 0.3 spinner"
    );
    assert!(
        c.took >= cpu,
        "stopped after {:?}, before its CPU time was up",
        c.took
    );
    eprintln!(
        "wasi03-hostile spin, --cpu-limit 500ms: stopped after {:?}",
        c.took
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn tcp_wasi03_hostile_spin_stopped_by_deadline_while_honest_exchange_completes() {
    let deadline = Duration::from_millis(700);
    let limits = Limits {
        cpu: Duration::from_secs(60),
        deadline: Some(deadline),
        ..Limits::default()
    };
    let c = hostile03("spin", limits).await;
    assert_limit(&c.record, "deadline", "700ms", true);
    assert!(
        c.honest_first,
        "the honest exchange waited for the 0.3 spinner"
    );
    assert!(
        c.took >= deadline,
        "stopped after {:?}, before the deadline",
        c.took
    );
    eprintln!(
        "wasi03-hostile spin, --deadline 700ms: stopped after {:?}",
        c.took
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_hostile_alloc_stopped_by_memory_limit_while_honest_exchange_completes() {
    let limits = Limits {
        memory: 32 << 20,
        ..Limits::default()
    };
    let c = hostile03("alloc", limits).await;
    assert_limit(&c.record, "memory-limit", "32MiB", true);
    eprintln!(
        "wasi03-hostile alloc, --memory-limit 32MiB: stopped after {:?}",
        c.took
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_hostile_sockets_refused_by_max_sockets_while_honest_exchange_completes() {
    let limits = Limits {
        max_sockets: 16,
        ..Limits::default()
    };
    let c = hostile03("sockets", limits).await;
    assert_limit(&c.record, "max-sockets", "16", false);
    // Refused, not stopped: the guest saw the error and said so, in 0.3's
    // words (0.3's error-code has no new-socket-limit).
    let error = c.record.guest.error.as_deref();
    let said = "tcp-socket.create after 16 sockets: other: new-socket-limit";
    assert_eq!(error, Some(said), "{}", shown(&c.record));
    assert_eq!(c.record.guest.limits[0].count, 1, "{}", shown(&c.record));
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_server_max_connections_closes_the_third_client() {
    max_connections_2_closes_the_third_client("wasi03-tcp-echo-server").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_wasi03_server_max_sockets_counts_accepted_connections() {
    // The listener is one socket: room for two connections.
    let limits = Limits {
        max_sockets: 3,
        ..Limits::default()
    };
    third_client_closed("wasi03-tcp-echo-server", limits, ("max-sockets", "3")).await;
}
