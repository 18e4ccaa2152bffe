//! The network rows: one native server and one guest server side by side,
//! driven by the same client code in alternating rounds.

use std::borrow::Cow;
use std::net::SocketAddr;

use anyhow::{Context, Result, anyhow, bail};

use super::drive;
use super::native::{self, NativeServer};
use super::table::{Goal, Rounds, Row, median, percentile};
use super::{Contender, Ctx};
use crate::exchange::{self, ClientSpec, RunningServer, ServerSpec};
use crate::report::ReplyStatus;

/// Bytes per ping-pong message, as in the measurements.
const PING_SIZE: usize = 64;

/// A native server and a guest server of the same transport.
struct Pair {
    native: NativeServer,
    guest: RunningServer,
}

impl Pair {
    /// The native TCP echo server and the TCP echo server guest `guest`.
    async fn tcp(ctx: &Ctx, guest: &str) -> Result<Pair> {
        let native = native::tcp_echo().await?;
        let guest = start_guest(ctx, guest).await?;
        Ok(Pair { native, guest })
    }

    /// The native UDP echo server and the UDP echo server guest `guest`.
    async fn udp(ctx: &Ctx, guest: &str) -> Result<Pair> {
        let native = native::udp_echo().await?;
        let guest = start_guest(ctx, guest).await?;
        Ok(Pair { native, guest })
    }

    /// Run `client`, a blocking `std::net` client, against each side in
    /// the bench's order; its samples per side.
    async fn rounds<I>(
        &self,
        ctx: &Ctx,
        client: impl Fn(SocketAddr) -> Result<I> + Clone + Send + 'static,
    ) -> Result<Sides>
    where
        I: IntoIterator<Item = f64> + Send + 'static,
    {
        let mut sides = Sides::default();
        for side in ctx.order() {
            let (client, addr) = (client.clone(), self.addr(side));
            sides.push(side, blocking(move || client(addr)).await?);
        }
        Ok(sides)
    }

    fn addr(&self, side: Contender) -> SocketAddr {
        match side {
            Contender::Native => self.native.addr,
            Contender::Guest => self.guest.connect_addr(),
        }
    }

    async fn stop(self) {
        self.guest.stop().await;
    }
}

/// The bundled server guest `name` on 127.0.0.1, under its wiring grants,
/// the default limits and the bench's audit file.
async fn start_guest(ctx: &Ctx, name: &str) -> Result<RunningServer> {
    let guest = ctx.runtime.load(name)?;
    let spec = ServerSpec::new(guest, "127.0.0.1:0".parse().unwrap());
    exchange::start_server(&ctx.runtime, spec)
        .await
        .map_err(|record| {
            anyhow!(
                "{name} did not start: {}",
                serde_json::to_string(&record).unwrap_or_default()
            )
        })
}

/// Run a blocking client off the async runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await?
}

/// Samples gathered per side, and each counted round's p50.
#[derive(Default)]
struct Sides {
    native: Vec<f64>,
    guest: Vec<f64>,
    rounds: Rounds,
    /// Whether each side's warm-up round (its first) has run.
    warm: [bool; 2],
}

impl Sides {
    /// One round's samples of `side` (a rate row's round: one rate); the
    /// first round of each side is its warm-up, not counted.
    fn push(&mut self, side: Contender, samples: impl IntoIterator<Item = f64>) {
        let round: Vec<f64> = samples.into_iter().collect();
        let warm = &mut self.warm[(side == Contender::Guest) as usize];
        if !std::mem::replace(warm, true) {
            return;
        }
        let (all, rounds) = match side {
            Contender::Native => (&mut self.native, &mut self.rounds.baseline),
            Contender::Guest => (&mut self.guest, &mut self.rounds.socklab),
        };
        if !round.is_empty() {
            rounds.push(median(&round));
        }
        all.extend(round);
    }

    /// A p50 and a p99 row from pooled round-trip samples.
    fn rtt_rows(
        &self,
        names: [impl Into<Cow<'static, str>>; 2],
        what: &str,
        p50_target: Goal,
        p99_target: Goal,
    ) -> Vec<Row> {
        let row = |name: Cow<'static, str>, p, target| {
            Row::compare(
                name,
                format!("{what}, p{p}"),
                "us",
                percentile(&self.native, p as f64),
                percentile(&self.guest, p as f64),
                target,
            )
            .rounds(self.rounds.clone())
        };
        let [p50, p99] = names;
        vec![
            row(p50.into(), 50, p50_target),
            row(p99.into(), 99, p99_target),
        ]
    }

    /// A row from the median of per-round rates.
    fn rate_row(
        &self,
        name: impl Into<Cow<'static, str>>,
        what: &str,
        unit: &'static str,
        target: Goal,
    ) -> Row {
        Row::compare(
            name,
            what,
            unit,
            median(&self.native),
            median(&self.guest),
            target,
        )
        .rounds(self.rounds.clone())
    }
}

/// The echo server guests of each WASI version, with the names of their
/// rows: 0.2's rows keep the names they have always had.
const TCP_SERVERS: [(&str, &str); 2] = [
    ("tcp-echo-server", ""),
    ("wasi03-tcp-echo-server", "wasi03-"),
];
const UDP_SERVERS: [(&str, &str); 2] = [
    ("udp-echo-server", ""),
    ("wasi03-udp-echo-server", "wasi03-"),
];

/// A row name with a WASI version's prefix (none for 0.2).
fn named(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// 64-byte ping-pong, native client: each TCP echo server guest (WASI 0.2,
/// then 0.3) against native, each pair in its own alternating rounds.
pub async fn tcp_rtt(ctx: &Ctx) -> Result<Vec<Row>> {
    let (count, limit) = (ctx.scale.pings, ctx.scale.limit);
    let mut rows = Vec::new();
    for (server, prefix) in TCP_SERVERS {
        let pair = Pair::tcp(ctx, server).await?;
        let rtts = pair
            .rounds(ctx, move |addr| {
                drive::ping_pong(addr, count, PING_SIZE, limit)
            })
            .await?;
        pair.stop().await;
        let p50 = if prefix.is_empty() {
            Goal::RatioAtMost(1.10)
        } else {
            Goal::None
        };
        rows.extend(rtts.rtt_rows(
            [named(prefix, "tcp-rtt-p50"), named(prefix, "tcp-rtt-p99")],
            &format!("TCP {PING_SIZE} B ping-pong x{count}, native client, {server}"),
            p50,
            Goal::None,
        ));
    }
    Ok(rows)
}

/// The `tcp-client` guest against `tcp-echo-server`, against the native
/// client and native server; the guest times each message itself.
pub async fn guest_client(ctx: &Ctx) -> Result<Vec<Row>> {
    let pair = Pair::tcp(ctx, "tcp-echo-server").await?;
    let (count, limit) = (ctx.scale.pings, ctx.scale.limit);
    let client = ctx.runtime.load("tcp-client")?;
    // The guest frames by line: 63 bytes and `\n` make 64.
    let mut line = drive::message(PING_SIZE);
    line.pop();
    let mut spec = ClientSpec::new(client, vec![line; count]);
    spec.timeout_ms = 5_000;
    let mut rtts = Sides::default();
    for side in ctx.order() {
        match side {
            Contender::Native => {
                let addr = pair.addr(side);
                rtts.push(
                    side,
                    blocking(move || drive::ping_pong(addr, count, PING_SIZE, limit)).await?,
                );
            }
            Contender::Guest => {
                let record = exchange::run_client(&ctx.runtime, &spec, pair.addr(side)).await;
                if let Some(bad) = record
                    .messages
                    .iter()
                    .find(|m| m.status != ReplyStatus::Complete)
                {
                    bail!(
                        "tcp-client's ping-pong failed: a message ended {}",
                        bad.status.name()
                    );
                }
                if record.messages.len() != count {
                    bail!(
                        "tcp-client exchanged {} of {count} messages",
                        record.messages.len()
                    );
                }
                rtts.push(side, record.messages.iter().map(|m| m.rtt_us));
            }
        }
    }
    pair.stop().await;
    Ok(rtts.rtt_rows(
        ["guest-client-rtt-p50", "guest-client-rtt-p99"],
        &format!("TCP {PING_SIZE} B ping-pong x{count}, tcp-client guest to tcp-echo-server (native: both native)"),
        Goal::RatioAtMost(1.20),
        Goal::None,
    ))
}

/// Bulk echo throughput over one connection, for each TCP echo server
/// guest (WASI 0.2, then 0.3).
pub async fn bulk(ctx: &Ctx) -> Result<Vec<Row>> {
    let (total, limit) = (ctx.scale.bulk_bytes, ctx.scale.limit);
    let mut rows = Vec::new();
    for (server, prefix) in TCP_SERVERS {
        let pair = Pair::tcp(ctx, server).await?;
        let rates = pair
            .rounds(ctx, move |addr| Ok([drive::bulk(addr, total, limit)?]))
            .await?;
        pair.stop().await;
        let target = if prefix.is_empty() {
            Goal::RatioAtLeast(0.95)
        } else {
            Goal::None
        };
        rows.push(rates.rate_row(
            named(prefix, "tcp-bulk"),
            &format!("TCP bulk echo of {} MiB, {server}", total >> 20),
            "MB/s",
            target,
        ));
    }
    Ok(rows)
}

/// The UDP rows: name, datagram size, datagrams in flight. One in flight
/// shows what a single round trip costs; 16 keep the server busy.
const UDP_ROWS: [(&str, usize, usize); 4] = [
    ("udp-pingpong-64", 64, 1),
    ("udp-pingpong-1400", 1400, 1),
    ("udp-64", 64, 16),
    ("udp-1400", 1400, 16),
];

/// Echoed datagrams per second at 64 B and 1,400 B, one and 16 in flight,
/// for each UDP echo server guest (WASI 0.2, then 0.3).
pub async fn udp(ctx: &Ctx) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (server, prefix) in UDP_SERVERS {
        let pair = Pair::udp(ctx, server).await?;
        for (name, size, window) in UDP_ROWS {
            let target = if prefix.is_empty() {
                Goal::RatioAtLeast(0.90)
            } else {
                Goal::None
            };
            let row = (named(prefix, name), server);
            rows.push(udp_row(ctx, &pair, row, (size, window), target).await?);
        }
        pair.stop().await;
    }
    Ok(rows)
}

/// One UDP rate row: `size`-byte datagrams, `window` in flight, against
/// `pair`.
async fn udp_row(
    ctx: &Ctx,
    pair: &Pair,
    (name, server): (String, &str),
    (size, window): (usize, usize),
    target: Goal,
) -> Result<Row> {
    let (count, limit) = (ctx.scale.datagrams, ctx.scale.limit);
    let mut rates = Sides::default();
    let mut lost = [0, 0];
    for side in ctx.order() {
        let addr = pair.addr(side);
        let rate = blocking(move || drive::udp_rate(addr, (size, window), count, limit)).await?;
        lost[(side == Contender::Guest) as usize] += rate.lost;
        rates.push(side, [rate.per_sec]);
    }
    let note = (lost != [0, 0])
        .then(|| format!("datagrams lost: native {}, socklab {}", lost[0], lost[1]));
    Ok(rates
        .rate_row(
            name,
            &format!("UDP {size} B echo x{count}, {window} in flight, {server}"),
            "datagrams/s",
            target,
        )
        .note(note))
}

/// TCP connections set up (and one byte echoed) per second.
pub async fn connect(ctx: &Ctx) -> Result<Vec<Row>> {
    let pair = Pair::tcp(ctx, "tcp-echo-server").await?;
    let (count, limit) = (ctx.scale.connects, ctx.scale.limit);
    let rates = pair
        .rounds(ctx, move |addr| {
            Ok([drive::connect_rate(addr, count, limit)?])
        })
        .await?;
    pair.stop().await;
    Ok(vec![rates.rate_row(
        "tcp-connect",
        &format!("TCP connect, 1 B echo, close x{count}, tcp-echo-server"),
        "connections/s",
        Goal::None,
    )])
}

/// RTT with 1,000 connections open on one server, all in ping-pong at once.
pub async fn concurrent(ctx: &Ctx) -> Result<Vec<Row>> {
    let pair = Pair::tcp(ctx, "tcp-echo-server").await?;
    let (conns, count, limit) = (
        ctx.scale.concurrent_conns,
        ctx.scale.concurrent_pings,
        ctx.scale.limit,
    );
    let mut rtts = Sides::default();
    for side in ctx.order() {
        let samples = drive::concurrent(pair.addr(side), conns, count, PING_SIZE, limit)
            .await
            .with_context(|| format!("{conns} concurrent connections"))?;
        rtts.push(side, samples);
    }
    pair.stop().await;
    Ok(rtts.rtt_rows(
        ["concurrent-rtt-p50", "concurrent-rtt-p99"],
        &format!("{conns} TCP connections at once, {PING_SIZE} B ping-pong x{count} each, tcp-echo-server"),
        Goal::None,
        Goal::RatioAtMost(2.0),
    ))
}
