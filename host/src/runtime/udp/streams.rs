//! The incoming and outgoing datagram streams of socklab's own UDP, with
//! wasmtime-wasi 48's limits per call and its checks per datagram, and no
//! task spawned on a datagram's path.

use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{SockAddr, SockRef};
use tokio::io::Interest;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::generated::wasi::sockets::udp::{
    HostIncomingDatagramStream, HostOutgoingDatagramStream, IncomingDatagram, OutgoingDatagram,
};
use super::socket::code;
use super::{RealUdp, Wit};
use socklab_sim::sockets::addr::{self, MAX_DATAGRAM_SIZE};

/// Most datagrams one `receive` returns and one `check-send` permits
/// (wasmtime-wasi's `MAX_DATAGRAMS`).
const MAX_DATAGRAMS: usize = 16;

/// `receive` stops once this many bytes are read (wasmtime-wasi's
/// `MAX_READ_SIZE_ALLOC`).
const MAX_READ: usize = 64 * 1024;

/// The `incoming-datagram-stream` resource.
pub struct IncomingDatagramStream {
    /// The socket's kernel socket, shared with it.
    socket: Arc<tokio::net::UdpSocket>,
    /// The peer when the stream was made: others' datagrams are discarded
    /// (Linux filters when a datagram arrives, not when it is read, so one
    /// queued before a reconnect could still come through).
    connected: Option<SocketAddr>,
    /// What each datagram is read into, for the stream's whole life.
    buffer: Box<[u8]>,
}

impl IncomingDatagramStream {
    pub(super) fn new(socket: Arc<tokio::net::UdpSocket>, connected: Option<SocketAddr>) -> Self {
        IncomingDatagramStream {
            socket,
            connected,
            buffer: vec![0; MAX_DATAGRAM_SIZE].into_boxed_slice(),
        }
    }

    /// One datagram into the stream's buffer, with its sender. First a
    /// `recvfrom(2)` now, past tokio's readiness (which may not know yet of
    /// a datagram, or of an error: a connected socket's ICMP
    /// port-unreachable is an error, not a datagram). If that finds
    /// nothing, again through tokio for each readiness the stream's
    /// pollable waits on, so that tokio clears what it had set and the next
    /// wait is a real one: only a call made inside `try_io` may clear it
    /// (a datagram arriving in between would be missed otherwise), and
    /// `try_io` takes one interest at a time (tokio 1.54 reads a combined
    /// one as none and never calls the operation).
    ///
    /// Only a call's `first` read is made past tokio: the later ones of the
    /// same `receive` follow a read that found a datagram, which tokio's
    /// readiness (still set) lets through, so the call costs one
    /// `recvfrom(2)` more than it reads datagrams, not two.
    fn recv(&mut self, first: bool) -> std::io::Result<(usize, SocketAddr)> {
        let (socket, buffer) = (&self.socket, &mut self.buffer);
        let would_block = |r: &std::io::Result<_>| {
            r.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock)
        };
        let mut result = match first {
            true => recv_from(socket, buffer),
            false => Err(std::io::ErrorKind::WouldBlock.into()),
        };
        for interest in [Interest::READABLE, Interest::ERROR] {
            if !would_block(&result) {
                break;
            }
            result = socket.try_io(interest, || recv_from(socket, buffer));
        }
        result
    }
}

/// One `recvfrom(2)` on `socket` into `buffer`.
fn recv_from(
    socket: &tokio::net::UdpSocket,
    buffer: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    // SAFETY: initialised bytes seen as maybe-uninitialised ones; recvfrom
    // only writes into them.
    let buffer = unsafe { &mut *(buffer as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let (len, src) = SockRef::from(socket).recv_from(buffer)?;
    let src = src.as_socket().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a datagram from no IP address",
        )
    })?;
    Ok((len, src))
}

/// The `outgoing-datagram-stream` resource.
pub struct OutgoingDatagramStream {
    /// The socket's kernel socket, shared with it.
    socket: Arc<tokio::net::UdpSocket>,
    /// The socket's family: which destinations are valid.
    ipv6: bool,
    /// The peer when the stream was made: the only destination allowed,
    /// and sent to with `send(2)`.
    connected: Option<SocketAddr>,
    /// Datagrams the last `check-send` permitted.
    permits: usize,
    /// A datagram the kernel had no room for: counted as sent, and sent
    /// when the stream's pollable is next waited on (or the next
    /// `check-send` finds room).
    pending: Option<(Vec<u8>, SocketAddr)>,
    /// What sending the pending datagram failed with, for the next `send`.
    failed: Option<ErrorCode>,
}

impl OutgoingDatagramStream {
    pub(super) fn new(
        socket: Arc<tokio::net::UdpSocket>,
        ipv6: bool,
        connected: Option<SocketAddr>,
    ) -> Self {
        OutgoingDatagramStream {
            socket,
            ipv6,
            connected,
            permits: 0,
            pending: None,
            failed: None,
        }
    }

    /// One `sendto(2)` (or `send(2)` to the connected peer), now, past
    /// tokio's readiness: a new socket is writable at once, though tokio
    /// learns it only later.
    fn send_now(&self, data: &[u8], dst: SocketAddr) -> std::io::Result<usize> {
        let socket = SockRef::from(&*self.socket);
        if self.connected == Some(dst) {
            socket.send(data)
        } else {
            socket.send_to(data, &SockAddr::from(dst))
        }
    }

    /// Try the pending datagram again; whether none is left waiting (a
    /// failure is kept for the next `send`).
    fn flush(&mut self) -> bool {
        let Some((data, dst)) = &self.pending else {
            return true;
        };
        match self.send_now(data, *dst) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) => self.failed = Some(code(&e)),
            Ok(_) => {}
        }
        self.pending = None;
        true
    }
}

impl HostIncomingDatagramStream for RealUdp<'_> {
    fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> Wit<Vec<IncomingDatagram>> {
        let (policy, table) = self.0.policy_and_table();
        let s = table.get_mut(&this)?;
        let max = usize::try_from(max_results)
            .unwrap_or(usize::MAX)
            .min(MAX_DATAGRAMS);
        let mut datagrams = Vec::new();
        let mut sum = 0;
        let mut first = true;
        while datagrams.len() < max && sum < MAX_READ {
            match s.recv(std::mem::replace(&mut first, false)) {
                Ok((len, src)) => {
                    if s.connected.is_some_and(|peer| peer != src) {
                        continue;
                    }
                    // Refused: dropped silently (the refusal is audited).
                    if !policy.check(SocketAddrUse::UdpReceive.into(), src) {
                        continue;
                    }
                    sum += 1 + len;
                    datagrams.push(IncomingDatagram {
                        data: s.buffer[..len].to_vec(),
                        remote_address: src.into(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) if !datagrams.is_empty() => break,
                Err(e) => return Ok(Err(code(&e))),
            }
        }
        Ok(Ok(datagrams))
    }

    fn subscribe(
        &mut self,
        this: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table(), this)
    }

    fn drop(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        self.table().delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for IncomingDatagramStream {
    async fn ready(&mut self) {
        // A datagram, or an error for `receive` to return. A failed wait
        // (the socket is gone from tokio) is for `receive` to say too.
        let _ = self
            .socket
            .ready(Interest::READABLE | Interest::ERROR)
            .await;
    }
}

impl HostOutgoingDatagramStream for RealUdp<'_> {
    fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> Wit<u64> {
        let s = self.table().get_mut(&this)?;
        s.permits = if s.flush() { MAX_DATAGRAMS } else { 0 };
        Ok(Ok(s.permits as u64))
    }

    fn send(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> Wit<u64> {
        let (policy, table) = self.0.policy_and_table();
        let s = table.get_mut(&this)?;
        if datagrams.is_empty() {
            return Ok(Ok(0));
        }
        if datagrams.len() > s.permits {
            wasmtime::bail!("unpermitted: argument exceeds permitted size");
        }
        // Each `send` must be permitted by a preceding `check-send`.
        s.permits = 0;
        if let Some(code) = s.failed.take() {
            return Ok(Err(code));
        }
        let mut count = 0;
        for datagram in datagrams {
            if s.pending.is_some() {
                break;
            }
            let sent = destination(s, &datagram).and_then(|dst| {
                if !policy.check(SocketAddrUse::UdpSend.into(), dst) {
                    return Err(ErrorCode::AccessDenied);
                }
                match s.send_now(&datagram.data, dst) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        s.pending = Some((datagram.data, dst));
                        Ok(())
                    }
                    Err(e) => Err(code(&e)),
                    Ok(_) => Ok(()),
                }
            });
            match sent {
                Ok(()) => count += 1,
                // "If at least one datagram has been sent successfully, this
                // function never returns an error."
                Err(_) if count > 0 => break,
                Err(code) => return Ok(Err(code)),
            }
        }
        Ok(Ok(count))
    }

    fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.table(), this)
    }

    /// A datagram still waiting is tried once more, then given a second to
    /// go out on its own (wasmtime-wasi waits for it inside the drop).
    fn drop(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        let mut s = self.table().delete(this)?;
        if !s.flush()
            && let Some((data, dst)) = s.pending.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let socket = s.socket.clone();
            runtime.spawn(async move {
                let send = socket.send_to(&data, dst);
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), send).await;
            });
        }
        Ok(())
    }
}

/// Where one datagram goes: the simulated network's rule, which is
/// wasmtime-wasi 48's (its size, then its address).
fn destination(
    s: &OutgoingDatagramStream,
    datagram: &OutgoingDatagram,
) -> Result<SocketAddr, ErrorCode> {
    let remote = datagram.remote_address.map(SocketAddr::from);
    addr::destination(datagram.data.len(), remote, s.connected, s.ipv6).map_err(ErrorCode::from)
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for OutgoingDatagramStream {
    async fn ready(&mut self) {
        while let Some((data, dst)) = &self.pending {
            if self.socket.writable().await.is_err() {
                return;
            }
            // Through tokio this time, so that a full buffer clears its
            // readiness and the next wait is a real one.
            match self.socket.try_send_to(data, *dst) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => self.failed = Some(code(&e)),
                Ok(_) => {}
            }
            self.pending = None;
        }
    }
}
