//! The TCP relay: per accepted client, its own connection to the server (so
//! the server sees the relay as its peer), and per direction a pump
//! (`tcp/pump.rs`) that reads, cuts and schedules the stream and writes it
//! on.

mod pump;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socket2::SockRef;
use tokio::net::{TcpListener, TcpStream};

use crate::capture::TcpFlow;
use crate::draw::Direction;
use crate::impair::TcpImpairments;
use crate::relay::{Base, LinkSpec, Relay, Tasks};
use crate::stats::Leg;
use pump::Conn;

/// Most bytes one direction of one connection holds; past it the relay
/// stops reading that direction until the writer catches up (4 MiB).
pub const TCP_QUEUE_BYTES: usize = 4 << 20;

/// What every task of one TCP relay shares.
struct Link {
    base: Base,
    to_server: TcpImpairments,
    to_client: TcpImpairments,
}

/// Starts a TCP relay: each connection accepted on [`Relay::addr`] gets its
/// own connection to `spec.server`, and the relay copies bytes both ways,
/// impaired as each direction says. A half-close is passed on (a FIN after
/// the last byte); a reset, a read or a write error on either side resets
/// both; when the server cannot be reached the client is reset.
///
/// # Errors
/// - `InvalidInput`: an impairment is nonsense (see
///   [`TcpImpairments::validate`]).
/// - whatever binding `spec.listen` returns (`AddrInUse`, …).
pub async fn start_tcp(spec: LinkSpec<TcpImpairments>) -> io::Result<Relay> {
    let listener = TcpListener::bind(spec.listen).await?;
    let (base, to_server, to_client) = spec.split(TcpImpairments::validate)?;
    let base = base.bound(listener.local_addr()?);
    let relay = base.handle();
    let tasks = base.tasks.clone();
    let link = Arc::new(Link {
        base,
        to_server,
        to_client,
    });
    tasks.spawn(accept(link, listener, tasks.clone()));
    Ok(relay)
}

/// Accepts clients, numbering them from 0 (the connection part of their
/// segments' keys).
async fn accept(link: Arc<Link>, listener: TcpListener, tasks: Tasks) {
    let mut index = 0u64;
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                tasks.spawn(connection(link.clone(), index, client, peer));
                index += 1;
            }
            // Out of descriptors or memory: wait for some to be freed rather
            // than spin on the error.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// How one direction of a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The source half-closed and the FIN was passed on.
    Closed,
    /// `reset_after` was reached.
    Reset,
    /// A read or write failed (the peer reset or went away).
    Broken,
}

/// Relays one connection until both directions close or one breaks.
async fn connection(link: Arc<Link>, index: u64, client: TcpStream, peer: SocketAddr) {
    let upstream = match TcpStream::connect(link.base.server).await {
        Ok(s) => s,
        Err(_) => {
            link.base.recorder.lock().connect_failures += 1;
            let _ = SockRef::from(&client).set_linger(Some(Duration::ZERO));
            return;
        }
    };
    // Each segment is its own write; Nagle would merge them again.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Ok(local) = upstream.local_addr() {
        link.base.recorder.lock().legs.push(Leg {
            client: peer,
            relay: link.base.listen,
            upstream: local,
            server: link.base.server,
        });
    }
    let flow = link
        .base
        .capture
        .clone()
        .map(|c| TcpFlow::open(c, peer, link.base.server));
    let conn = Conn {
        link: &link,
        index,
        flow: flow.as_ref(),
    };
    let to_server = conn.pump(Direction::ToServer, &client, &upstream);
    let to_client = conn.pump(Direction::ToClient, &upstream, &client);
    tokio::pin!(to_server, to_client);
    let (mut server_done, mut client_done) = (false, false);
    let end = loop {
        let end = tokio::select! {
            end = &mut to_server, if !server_done => { server_done = true; end }
            end = &mut to_client, if !client_done => { client_done = true; end }
        };
        if end != End::Closed {
            break end;
        }
        if server_done && client_done {
            break End::Closed;
        }
    };
    if end == End::Closed {
        return;
    }
    {
        let mut stats = link.base.recorder.lock();
        match end {
            End::Reset => stats.resets += 1,
            _ => stats.peer_resets += 1,
        }
    }
    // Closing with a zero linger time sends an RST instead of a FIN; both
    // streams close when this function returns.
    let _ = SockRef::from(&client).set_linger(Some(Duration::ZERO));
    let _ = SockRef::from(&upstream).set_linger(Some(Duration::ZERO));
    if let Some(flow) = &flow {
        flow.reset();
    }
}

impl Link {
    fn impairments(&self, direction: Direction) -> &TcpImpairments {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
}
