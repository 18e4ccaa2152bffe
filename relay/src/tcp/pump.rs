//! One direction of one TCP connection: a reader that cuts the stream into
//! segments and draws each one's fate and due time, and a writer that
//! delivers them in order at those times.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;

use super::{End, Link, TCP_QUEUE_BYTES};
use crate::capture::TcpFlow;
use crate::draw::{Direction, Key, draw};
use crate::impair::{MAX_RTO, TcpImpairments};
use crate::schedule::{Pacer, jitter, wait_until};
use crate::stats::{Event, Fate, micros};

/// Largest read, and so largest segment without `slice` (32 KiB).
const READ_SIZE: usize = 32 << 10;

/// Most transmissions of one segment that can be lost; the next is
/// delivered. With `loss < 1` this is reached with probability `loss^64`.
const MAX_LOST: u32 = 64;

/// What a reader hands its writer.
enum Item {
    /// Bytes to write at `due`; the permit holds their share of
    /// [`TCP_QUEUE_BYTES`] until written.
    Data {
        due: Instant,
        bytes: Vec<u8>,
        _permit: OwnedSemaphorePermit,
    },
    /// The source half-closed: shut down writing after `due`.
    Fin { due: Instant },
    /// `reset_after` reached: reset the connection after `due`.
    Reset { due: Instant },
    /// Reading failed.
    Broken,
}

/// One connection, as its two directions see it.
pub(super) struct Conn<'a> {
    /// The relay's link: names, seed, impairments, stats.
    pub(super) link: &'a Link,
    /// The connection's index on the relay, the first part of its keys.
    pub(super) index: u64,
    /// Where the capture draws this connection, if there is a capture.
    pub(super) flow: Option<&'a TcpFlow>,
}

impl Conn<'_> {
    /// Copies `src` to `dst` as `direction` says, until the source closes,
    /// the reset offset is reached, or a read or write fails.
    pub(super) async fn pump(&self, direction: Direction, src: &TcpStream, dst: &TcpStream) -> End {
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = self.read_side(direction, src, tx);
        let writer = self.write_side(direction, dst, rx);
        tokio::pin!(reader, writer);
        let mut reading = true;
        loop {
            tokio::select! {
                () = &mut reader, if reading => reading = false,
                end = &mut writer => return end,
            }
        }
    }

    /// Reads `src`, cuts what it reads into segments, draws each segment's
    /// fate and due time, and queues it for the writer.
    async fn read_side(
        &self,
        direction: Direction,
        src: &TcpStream,
        tx: mpsc::UnboundedSender<Item>,
    ) {
        let imp = self.link.impairments(direction);
        let budget = Arc::new(Semaphore::new(TCP_QUEUE_BYTES));
        let mut plan = Plan {
            pacer: Pacer::new(imp.bandwidth),
            prev_due: Instant::now(),
            stalled: false,
        };
        let mut offset = 0u64;
        let mut buf = vec![0u8; READ_SIZE];
        // A send fails only when the writer has ended, and then the reader
        // has nothing left to do either: `let _` below is that.
        loop {
            if imp.reset_after == Some(offset) {
                let _ = tx.send(Item::Reset { due: plan.prev_due });
                return;
            }
            let n = match read(src, &mut buf).await {
                Ok(0) => {
                    let _ = tx.send(Item::Fin { due: plan.prev_due });
                    return;
                }
                Ok(n) => n,
                Err(_) => {
                    let _ = tx.send(Item::Broken);
                    return;
                }
            };
            let mut at = 0;
            while at < n && imp.reset_after != Some(offset) {
                let len = segment_len(imp, offset, n - at);
                let Ok(permit) = budget.clone().acquire_many_owned(len as u32).await else {
                    return;
                };
                let due = self.plan(direction, imp, &mut plan, offset, len);
                let bytes = buf[at..at + len].to_vec();
                let _ = tx.send(Item::Data {
                    due,
                    bytes,
                    _permit: permit,
                });
                at += len;
                offset += len as u64;
            }
        }
    }

    /// Draws the fate of the segment of `len` bytes at `offset`, counts it,
    /// and returns when it is due.
    fn plan(
        &self,
        direction: Direction,
        imp: &TcpImpairments,
        plan: &mut Plan,
        offset: u64,
        len: usize,
    ) -> Instant {
        let link = self.link;
        let now = Instant::now();
        let key = Key::Segment {
            connection: self.index,
            offset,
        };
        let draw = |purpose: &str| draw(link.base.seed, &link.base.name, direction, key, purpose);
        let mut fates = Vec::new();
        let mut penalty = Duration::ZERO;
        let mut lost = 0u32;
        while lost < MAX_LOST && draw(&format!("loss/{lost}")) < imp.loss {
            penalty += rto(imp.rto, lost);
            fates.push(Fate::Retransmitted { attempt: lost });
            lost += 1;
        }
        let mut due = plan.pacer.transmit(now, len)
            + imp.latency
            + jitter(imp.jitter, draw("jitter"))
            + penalty;
        let stall = !plan.stalled && imp.stall_after == Some(offset);
        if stall {
            plan.stalled = true;
            due = due.max(plan.prev_due.max(now) + imp.stall_for);
            fates.push(Fate::Stalled);
        }
        // In order: a segment never overtakes the one before it.
        due = due.max(plan.prev_due);
        plan.prev_due = due;
        fates.push(Fate::Delivered);
        if imp.reset_after == Some(offset + len as u64) {
            fates.push(Fate::Reset);
        }
        let event = Event {
            at_us: link.base.recorder.micros_since_start(now.into_std()),
            key,
            bytes: len as u64,
            fates,
            delay_us: micros(due - now),
        };
        link.base.recorder.dir(direction, |s| {
            s.received += 1;
            s.received_bytes += len as u64;
            s.lost += u64::from(lost);
            s.retransmissions += u64::from(lost);
            s.stalls += u64::from(stall);
            s.pending += 1;
            s.push_event(event);
        });
        due
    }

    /// Writes each queued segment to `dst` at its due time, and passes on
    /// the end of the stream.
    async fn write_side(
        &self,
        direction: Direction,
        dst: &TcpStream,
        mut rx: mpsc::UnboundedReceiver<Item>,
    ) -> End {
        let to_server = direction == Direction::ToServer;
        let recorder = &self.link.base.recorder;
        while let Some(item) = rx.recv().await {
            match item {
                Item::Data { due, bytes, .. } => {
                    wait_until(due).await;
                    let written = write_all(dst, &bytes).await;
                    recorder.dir(direction, |s| {
                        s.pending -= 1;
                        match written {
                            Ok(()) => s.count_delivery(bytes.len()),
                            Err(_) => s.send_errors += 1,
                        }
                    });
                    if written.is_err() {
                        return End::Broken;
                    }
                    if let Some(flow) = self.flow {
                        flow.data(to_server, &bytes);
                    }
                }
                Item::Fin { due } => {
                    wait_until(due).await;
                    let _ = SockRef::from(dst).shutdown(Shutdown::Write);
                    if let Some(flow) = self.flow {
                        flow.fin(to_server);
                    }
                    return End::Closed;
                }
                Item::Reset { due } => {
                    wait_until(due).await;
                    return End::Reset;
                }
                Item::Broken => return End::Broken,
            }
        }
        // The reader stopped without a last word: only when its queue
        // budget was closed, which nothing does.
        End::Broken
    }
}

/// The timing state of one direction of one connection.
struct Plan {
    /// The direction's bandwidth.
    pacer: Pacer,
    /// When the last segment is due; no later segment is due before it.
    prev_due: Instant,
    /// Whether the stall has happened.
    stalled: bool,
}

/// The length of the next segment at `offset` out of `available` bytes: at
/// most `slice`, and cut at the reset and stall offsets.
fn segment_len(imp: &TcpImpairments, offset: u64, available: usize) -> usize {
    let mut len = available.min(imp.slice.unwrap_or(usize::MAX));
    for cut in [imp.reset_after, imp.stall_after].into_iter().flatten() {
        if cut > offset {
            len = len.min(usize::try_from(cut - offset).unwrap_or(usize::MAX));
        }
    }
    len
}

/// The retransmission timeout after `lost` earlier losses of a segment:
/// `rto · 2^lost`, at most [`MAX_RTO`].
fn rto(first: Duration, lost: u32) -> Duration {
    first.saturating_mul(2u32.saturating_pow(lost)).min(MAX_RTO)
}

/// Reads what is there, waiting until something is.
async fn read(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        s.readable().await?;
        match s.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}

/// Writes all of `bytes`, waiting for room as needed.
async fn write_all(s: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        s.writable().await?;
        match s.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_cut_at_slice_reset_and_stall() {
        let imp = TcpImpairments {
            slice: Some(10),
            reset_after: Some(25),
            stall_after: Some(14),
            ..TcpImpairments::default()
        };
        assert_eq!(segment_len(&imp, 0, 100), 10);
        assert_eq!(segment_len(&imp, 10, 100), 4);
        assert_eq!(segment_len(&imp, 14, 100), 10);
        assert_eq!(segment_len(&imp, 24, 100), 1);
        assert_eq!(segment_len(&imp, 24, 0), 0);
        assert_eq!(segment_len(&TcpImpairments::default(), 0, 7), 7);
    }

    #[test]
    fn rto_doubles_up_to_the_maximum() {
        let ms = Duration::from_millis;
        assert_eq!(rto(ms(200), 0), ms(200));
        assert_eq!(rto(ms(200), 3), ms(1600));
        assert_eq!(rto(ms(200), 40), MAX_RTO);
    }
}
