//! When things are delivered: jitter, a rate-limited link that carries one
//! datagram or segment after another, and a delay line that delivers items at
//! their due times.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

/// A delay uniform in `[0, max]`, from a draw `u` in `[0, 1)`.
pub(crate) fn jitter(max: Duration, u: f64) -> Duration {
    max.mul_f64(u)
}

/// A link of limited rate: each item takes `len / rate` seconds, and an item
/// starts only when the one before it has finished.
pub(crate) struct Pacer {
    /// Bytes per second; `None` sends at once.
    rate: Option<u64>,
    /// When the link finishes the last item given to it; `None` before the
    /// first.
    free_at: Option<Instant>,
}

impl Pacer {
    pub(crate) fn new(rate: Option<u64>) -> Pacer {
        Pacer {
            rate,
            free_at: None,
        }
    }

    /// Puts `len` bytes on the link at `now`; returns when they have
    /// crossed it.
    pub(crate) fn transmit(&mut self, now: Instant, len: usize) -> Instant {
        let Some(rate) = self.rate else {
            return now;
        };
        let start = self.free_at.map_or(now, |free| free.max(now));
        let done = start + Duration::from_secs_f64(len as f64 / rate as f64);
        self.free_at = Some(done);
        done
    }
}

/// An item and when it is due, ordered by due time and then by arrival.
struct Due<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Due<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Due<T> {}
impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Due<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Waits until `due`; returns at once when it has passed. (A tokio timer for
/// a time already reached still waits for the wheel's next tick, up to a
/// millisecond: on an unimpaired link that would be most of the RTT.)
pub(crate) async fn wait_until(due: Instant) {
    if due > Instant::now() {
        tokio::time::sleep_until(due).await;
    }
}

/// Delivers each `(due, item)` received on `rx` at its due time, earliest
/// first (items due at the same time in the order received), by calling
/// `deliver`. Returns when `rx` is closed and every item has been delivered.
///
/// The caller bounds how many items are in flight (the UDP queue limit), so
/// the heap here holds at most that many.
pub(crate) async fn delay_line<T>(
    mut rx: mpsc::UnboundedReceiver<(Instant, T)>,
    mut deliver: impl AsyncFnMut(T),
) {
    let mut heap: BinaryHeap<Reverse<Due<T>>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut open = true;
    loop {
        // What is already due goes out now: a timer would round it up to
        // the timer wheel's next millisecond.
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(due)) = heap.pop() {
                deliver(due.item).await;
            }
        }
        let next = heap.peek().map(|Reverse(d)| d.at);
        if !open && next.is_none() {
            return;
        }
        tokio::select! {
            item = rx.recv(), if open => match item {
                Some((at, item)) => {
                    heap.push(Reverse(Due { at, seq, item }));
                    seq += 1;
                }
                None => open = false,
            },
            () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                if let Some(Reverse(due)) = heap.pop() {
                    deliver(due.item).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_serialises_items_at_its_rate() {
        let now = Instant::now();
        let mut p = Pacer::new(Some(1000));
        assert_eq!(p.transmit(now, 100), now + Duration::from_millis(100));
        // The second waits for the first.
        assert_eq!(p.transmit(now, 100), now + Duration::from_millis(200));
        let mut unlimited = Pacer::new(None);
        assert_eq!(unlimited.transmit(now, 1 << 20), now);
    }

    #[tokio::test]
    async fn delay_line_delivers_in_due_order() {
        let (tx, rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        tx.send((now + Duration::from_millis(30), 'c')).unwrap();
        tx.send((now + Duration::from_millis(10), 'a')).unwrap();
        tx.send((now + Duration::from_millis(10), 'b')).unwrap();
        drop(tx);
        let mut got = Vec::new();
        let run = delay_line(rx, async |c| got.push((c, Instant::now())));
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("delay line finishes");
        let order: String = got.iter().map(|(c, _)| *c).collect();
        assert_eq!(order, "abc");
        assert!(got[2].1 >= now + Duration::from_millis(30));
    }
}
