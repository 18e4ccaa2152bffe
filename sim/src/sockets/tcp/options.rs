//! A TCP socket's options, kept and read back as wasmtime-wasi 48 on Linux
//! reports them: keep-alive (enabled, idle time, interval, count), hop
//! limit, buffer sizes, and the listen backlog.
//!
//! What smoltcp can apply to a live socket, it gets at once (hop limit,
//! keep-alive: one probe every idle time, with no give-up after `count`).
//! Buffer sizes are the smoltcp socket's buffers, fixed when it is made: a
//! size set after connect or listen is read back but applies to the next
//! socket only (a listener's to the connections it accepts next).

use wasmtime::component::Resource;

use super::{S, SimCtx, SimView, State, TcpSocket, Wit};
use crate::bindings::sockets::network::ErrorCode;
use crate::net::tcp::{MAX_BUFFER, TcpOptions};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// wasmtime-wasi's `clamp_keep_alive_time`: 1 s to Linux's 32 767 s (0 is
/// left for the caller to refuse).
pub(super) fn clamp_time(value: u64) -> u64 {
    if value == 0 {
        return 0;
    }
    value.clamp(NANOS_PER_SEC, i16::MAX as u64 * NANOS_PER_SEC)
}

/// A buffer size as Linux keeps it and wasmtime-wasi reports it: at most
/// `rmem_max`/`wmem_max`.
pub(super) fn buffer(value: u64) -> u64 {
    value.min(MAX_BUFFER)
}

impl TcpSocket {
    /// wasmtime-wasi's `as_fd`: no options while connecting; a closed
    /// socket's error.
    fn options_state(&self) -> Result<(), ErrorCode> {
        match self.state {
            State::Connecting(_) => Err(ErrorCode::InvalidState),
            State::Closed(code) => Err(code),
            _ => Ok(()),
        }
    }
}

impl<T: SimView> SimCtx<'_, T> {
    pub(super) fn tcp_option<V>(&mut self, this: S, get: impl FnOnce(&TcpOptions) -> V) -> Wit<V> {
        let s = self.0.table().get(&this)?;
        if let Err(code) = s.options_state() {
            return Ok(Err(code));
        }
        Ok(s.core().tcp(s.id).map(|e| get(&e.opts)))
    }

    /// Sets an option; `invalid` (a 0 where the WIT forbids it) gives
    /// `invalid-argument`, after the state check as in wasmtime-wasi.
    pub(super) fn set_tcp_option(
        &mut self,
        this: S,
        invalid: bool,
        set: impl FnOnce(&mut TcpOptions),
    ) -> Wit<()> {
        let s = self.0.table().get(&this)?;
        if let Err(code) = s.options_state() {
            return Ok(Err(code));
        }
        if invalid {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        s.core().tcp_set_options(s.id, set);
        Ok(Ok(()))
    }

    /// `set-listen-backlog-size`: kept for `listen`, or applied to a
    /// listener (Linux takes a second `listen`).
    pub(super) fn set_tcp_backlog(&mut self, this: Resource<TcpSocket>, value: u64) -> Wit<()> {
        if value == 0 {
            return Ok(Err(ErrorCode::InvalidArgument));
        }
        let value = u32::try_from(value)
            .unwrap_or(i32::MAX as u32)
            .clamp(1, i32::MAX as u32);
        let s = self.0.table().get_mut(&this)?;
        match s.state {
            State::Default => {}
            State::Listening => {
                if let Err(code) = s.core().tcp_set_backlog(s.id, value) {
                    return Ok(Err(code));
                }
            }
            State::Closed(code) => return Ok(Err(code)),
            _ => return Ok(Err(ErrorCode::InvalidState)),
        }
        s.backlog = value;
        Ok(Ok(()))
    }
}
