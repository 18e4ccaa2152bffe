//! Waiting and writing: the parts of `wasi:io` every guest needs.

use crate::wasi::clocks::monotonic_clock::{self, Instant};
use crate::wasi::io::poll::{Pollable, poll};
use crate::wasi::io::streams::{OutputStream, StreamError};

/// A point on the monotonic clock after which a wait gives up.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Instant);

impl Deadline {
    /// `ms` milliseconds from now.
    pub fn after_ms(ms: u32) -> Self {
        Deadline(monotonic_clock::now() + u64::from(ms) * 1_000_000)
    }

    /// A pollable that becomes ready at the deadline.
    pub fn pollable(&self) -> Pollable {
        monotonic_clock::subscribe_instant(self.0)
    }
}

/// Nanoseconds elapsed since `start` on the monotonic clock.
pub fn elapsed_ns(start: Instant) -> u64 {
    monotonic_clock::now().saturating_sub(start)
}

/// Block until `ready` is ready or `deadline` passes; `true` if `ready` won.
///
/// Equivalent to `poll()`/`select()` on one descriptor with a timeout.
pub fn wait_until(ready: &Pollable, deadline: &Pollable) -> bool {
    let fired = poll(&[ready, deadline]);
    fired.contains(&0)
}

/// Write all of `bytes`, waiting for the stream to accept more as needed.
///
/// Equivalent to `sendall`: a loop of `send` calls, each as large as the
/// stream permits (`check-write`), waiting on the stream's pollable when it
/// permits nothing. The pollable is only made when it is needed: a write
/// that fits at once costs two host calls, not four.
pub fn write_all(out: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    let mut ready = None;
    while !bytes.is_empty() {
        let permit = out.check_write()?;
        if permit == 0 {
            ready.get_or_insert_with(|| out.subscribe()).block();
            continue;
        }
        let n = bytes
            .len()
            .min(usize::try_from(permit).unwrap_or(usize::MAX));
        out.write(&bytes[..n])?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// How many bytes to ask for in the next `read` (or `splice`) on a stream.
///
/// The host zeroes a buffer of the size asked for on every read, whatever
/// arrives: asking for 64 KiB to receive a 64-byte message costs more than
/// the message. So start at 4 KiB, double while reads fill the request (bulk
/// transfer), halve when they come back under a quarter full.
#[derive(Clone, Copy, Debug)]
pub struct ReadSize(u64);

impl ReadSize {
    const MIN: u64 = 4 * 1024;
    /// The most one `recv` asks for, like `conn.recv(65536)`.
    const MAX: u64 = 64 * 1024;

    pub fn new() -> Self {
        ReadSize(Self::MIN)
    }

    /// What to ask for now.
    pub fn get(self) -> u64 {
        self.0
    }

    /// Learn from a read that asked for [`ReadSize::get`] and got `got` bytes.
    pub fn update(&mut self, got: u64) {
        if got >= self.0 {
            self.0 = (self.0 * 2).min(Self::MAX);
        } else if got < self.0 / 4 {
            self.0 = (self.0 / 2).max(Self::MIN);
        }
    }
}

impl Default for ReadSize {
    fn default() -> Self {
        Self::new()
    }
}

/// A stream error as text for a report: `closed`, or the error's debug text.
pub fn stream_error_text(e: &StreamError) -> String {
    match e {
        StreamError::Closed => "closed".to_string(),
        StreamError::LastOperationFailed(err) => err.to_debug_string(),
    }
}
