//! Hostile guests beside an honest exchange, for the limits tests of both
//! WASI versions (`hostile`, `wasi03_limits`): run one, check the limit it
//! hit, and that the honest exchange beside it completed.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use socklab::exchange::{self, ClientSpec, ServerSpec};
use socklab::limits::Limits;
use socklab::report::{ClientRecord, ExchangeRecord, Expect};

use super::*;

pub const LOOPBACK: &str = "127.0.0.1:0";

pub fn messages() -> Vec<Vec<u8>> {
    ["first", "second", "third"]
        .map(|m| m.as_bytes().to_vec())
        .into()
}

/// An honest exchange (tcp-echo-server and tcp-client, echo expected), and
/// when it ended.
pub async fn honest() -> (ExchangeRecord, Instant) {
    let server = ServerSpec::new(guest("tcp-echo-server"), LOOPBACK.parse().unwrap());
    let mut client = ClientSpec::new(guest("tcp-client"), messages());
    client.expect = Expect::Echo;
    let run = within(
        "the honest exchange",
        exchange::exchange(&lab(), server, client),
    )
    .await;
    (run, Instant::now())
}

/// What a hostile guest left, how long it ran, and whether the honest
/// exchange beside it finished first.
pub struct Contained {
    pub record: ClientRecord,
    pub took: Duration,
    pub honest_first: bool,
}

/// Run the hostile client `name` wired to `server` under `limits`, and an
/// honest exchange at the same time; the honest one must complete.
pub async fn beside_honest(
    name: &str,
    server: SocketAddr,
    limits: Limits,
    params: &[(&str, String)],
) -> Contained {
    let mut spec = ClientSpec::new(guest(name), messages());
    (spec.limits, spec.expect) = (limits, Expect::Echo);
    spec.params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let hostile = async {
        let start = Instant::now();
        let record = exchange::run_client(&lab(), &spec, server).await;
        (record, start.elapsed(), Instant::now())
    };
    let ((record, took, ended), (run, honest_ended)) =
        within(&format!("{name} beside an honest exchange"), async {
            tokio::join!(hostile, honest())
        })
        .await;
    let json = serde_json::to_string_pretty(&run).unwrap();
    assert!(
        run.ok(),
        "the honest exchange beside {name} failed:\n{json}"
    );
    Contained {
        record,
        took,
        honest_first: honest_ended < ended,
    }
}

/// The record as JSON, for assertion messages (stderr included).
pub fn shown(record: &ClientRecord) -> String {
    serde_json::to_string_pretty(record).unwrap()
}

/// Assert that the one limit hit is `limit` with `value`, stopping the
/// guest or only refusing it.
pub fn assert_limit(record: &ClientRecord, limit: &str, value: &str, stopped: bool) {
    let hits = &record.guest.limits;
    assert_eq!(hits.len(), 1, "{}", shown(record));
    let hit = &hits[0];
    assert_eq!(
        (hit.limit.flag(), hit.value.as_str(), hit.stopped),
        (limit, value, stopped),
        "{}",
        shown(record)
    );
    if stopped {
        let error = record.guest.error.as_deref().unwrap_or_default();
        let reached = format!("stopped by a limit: --{limit} {value} reached");
        assert!(error.starts_with(&reached), "{}", shown(record));
        assert!(record.messages.is_empty(), "{}", shown(record));
    }
}

/// A native listener as the server of a hostile client that never connects.
pub fn nowhere() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(LOOPBACK).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}
