//! A TCP connection's `input-stream` and `output-stream`, as wasmtime-wasi
//! 48's `p2/tcp.rs` behaves: a read takes what has arrived (empty when
//! nothing has), the end of the stream is `closed`, a reset is reported
//! once as `last-operation-failed(connection-reset)`; `check-write`
//! permits 64 KiB while the send buffer has room and 0 while an earlier
//! write still waits for it (the peer does not read), and a write the guest
//! was permitted is always taken whole.

use std::future::poll_fn;

use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{InputStream, OutputStream, StreamError, StreamResult};

use crate::bindings::sockets::network::ErrorCode;
use crate::net::Node;
use crate::net::tcp::{Read, Ready, WriteError};

/// wasmtime-wasi's `MAX_READ_SIZE_ALLOC`: the most one read returns and one
/// `check-write` permits.
const MAX_IO: usize = 64 * 1024;

/// The `input-stream` of a connection.
pub(crate) struct TcpReader {
    pub(crate) id: u64,
    pub(crate) node: Node,
    /// The end of the stream (or its error) was reported.
    closed: bool,
}

/// The `output-stream` of a connection.
pub(crate) struct TcpWriter {
    pub(crate) id: u64,
    pub(crate) node: Node,
    /// Bytes the last `check-write` permitted.
    permit: usize,
}

impl TcpReader {
    pub(crate) fn new(id: u64, node: Node) -> TcpReader {
        TcpReader {
            id,
            node,
            closed: false,
        }
    }
}

impl TcpWriter {
    pub(crate) fn new(id: u64, node: Node) -> TcpWriter {
        TcpWriter {
            id,
            node,
            permit: 0,
        }
    }
}

/// A socket error inside a stream error, where `network.error-code` finds it.
fn failed(code: ErrorCode) -> StreamError {
    StreamError::LastOperationFailed(wasmtime::Error::new(code))
}

fn write_error(e: WriteError) -> StreamError {
    match e {
        WriteError::Closed => StreamError::Closed,
        WriteError::Failed(code) => failed(code),
    }
}

#[wasmtime_wasi_io::async_trait]
impl InputStream for TcpReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        let read = self
            .node
            .handle
            .shared
            .core()
            .tcp_read(self.id, size.min(MAX_IO));
        match read {
            Read::Data(data) => Ok(Bytes::from(data)),
            Read::WouldBlock => Ok(Bytes::new()),
            Read::End => {
                self.closed = true;
                Err(StreamError::Closed)
            }
            Read::Failed(code) => {
                self.closed = true;
                Err(failed(code))
            }
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for TcpReader {
    async fn ready(&mut self) {
        if self.closed {
            return;
        }
        let (id, shared) = (self.id, self.node.handle.shared.clone());
        poll_fn(|cx| shared.core().tcp_poll(id, Ready::Read, cx)).await
    }
}

#[wasmtime_wasi_io::async_trait]
impl OutputStream for TcpWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut core = self.node.handle.shared.core();
        core.tcp_writable(self.id).map_err(write_error)?;
        if bytes.len() > self.permit {
            return Err(StreamError::Trap(wasmtime::format_err!(
                "not permitted to write {} bytes",
                bytes.len()
            )));
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.permit = 0;
        core.tcp_write(self.id, &bytes).map_err(write_error)
    }

    fn flush(&mut self) -> StreamResult<()> {
        // As in wasmtime-wasi: written bytes go out as fast as the connection
        // takes them; there is nothing to hurry.
        let writable = self.node.handle.shared.core().tcp_writable(self.id);
        writable.map(|_| ()).map_err(write_error)
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let writable = self.node.handle.shared.core().tcp_writable(self.id);
        match writable.map_err(write_error)? {
            true => {
                self.permit = MAX_IO;
                Ok(MAX_IO)
            }
            false => Ok(0),
        }
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for TcpWriter {
    async fn ready(&mut self) {
        let (id, shared) = (self.id, self.node.handle.shared.clone());
        poll_fn(|cx| shared.core().tcp_poll(id, Ready::Write, cx)).await
    }
}
