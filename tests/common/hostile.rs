//! Hostile guests beside an honest exchange, for the limits tests of both
//! WASI versions (`hostile`, `wasi03_limits`): run one, check the limit it
//! hit, and that the honest exchange beside it completed.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use socklab::exchange::{self, ClientSpec, ServerSpec};
use socklab::limits::Limits;
use socklab::report::{ClientRecord, ExchangeRecord, Expect};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::peers::connect_and_read;
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

/// Send `line` on `conn` and read the echoed line back.
async fn echo(conn: &mut BufReader<TcpStream>, line: &str) -> String {
    conn.get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    within(&format!("the echo of {line:?}"), conn.read_line(&mut reply))
        .await
        .unwrap();
    reply
}

/// `name` (a TCP echo server of either WASI version) under `--max-connections
/// 2`: the third client is closed as it connects, the first two are still
/// served, and the record names the limit once.
pub async fn max_connections_2_closes_the_third_client(name: &str) {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    third_client_closed(name, limits, ("max-connections", "2")).await;
}

/// `name` under `limits`, which leave room for two connections: the third
/// client is closed as it connects, the first two are still served, and the
/// record names `limit` (flag, value) once.
pub async fn third_client_closed(name: &str, limits: Limits, limit: (&str, &str)) {
    let mut spec = ServerSpec::new(guest(name), LOOPBACK.parse().unwrap());
    spec.limits = limits;
    let server = exchange::start_server(&lab(), spec)
        .await
        .unwrap_or_else(|r| panic!("{r:?}"));
    let addr = server.connect_addr();
    let connect =
        || async { BufReader::new(within("connect", TcpStream::connect(addr)).await.unwrap()) };
    let (mut first, mut second) = (connect().await, connect().await);
    assert_eq!(echo(&mut first, "one").await, "one\n");
    assert_eq!(echo(&mut second, "two").await, "two\n");
    // The third is accepted by the kernel, then closed by the host.
    let start = Instant::now();
    let (_, read) = connect_and_read(addr.ip(), addr).await;
    let closed_after = start.elapsed();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the third client read {read:?}"
    );
    // The first two are still served.
    assert_eq!(echo(&mut first, "again").await, "again\n");
    assert_eq!(echo(&mut second, "still").await, "still\n");
    drop((first, second));
    let record = within("the server to stop", server.stop()).await;
    let hits = &record.guest.limits;
    let json = serde_json::to_string_pretty(&record).unwrap();
    assert_eq!(hits.len(), 1, "{json}");
    let hit = &hits[0];
    assert_eq!(
        (hit.limit.flag(), hit.value.as_str(), hit.stopped, hit.count),
        (limit.0, limit.1, false, 1),
        "{json}"
    );
    assert_eq!(
        record.served.as_ref().map(|s| s.sessions),
        Some(2),
        "{json}"
    );
    eprintln!(
        "{name}, --{} {}: the third client was closed {closed_after:?} after connecting",
        limit.0, limit.1
    );
}
