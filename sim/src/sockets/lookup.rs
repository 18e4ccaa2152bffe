//! `wasi:sockets/ip-name-lookup` on the simulated network: IP literals as
//! wasmtime-wasi 48 parses them, `localhost` and the nodes' names; every
//! name first passes the host's [`SimView::allow_name`].

use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use super::addr::ip_from_std;
use super::{Network, SimCtx, SimView};
use crate::bindings::sockets::ip_name_lookup;
use crate::bindings::sockets::network::{ErrorCode, IpAddress};

/// The `resolve-address-stream` resource: the answer, known at once.
pub struct ResolveAddressStream {
    addresses: std::vec::IntoIter<IpAddr>,
}

type Wit<T> = wasmtime::Result<Result<T, ErrorCode>>;

impl<T: SimView> ip_name_lookup::Host for SimCtx<'_, T> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> Wit<Resource<ResolveAddressStream>> {
        self.0.table().get(&network)?;
        if !self.0.allow_name(&name) {
            return Ok(Err(ErrorCode::AccessDenied));
        }
        let addresses = match parse(&name) {
            Err(code) => return Ok(Err(code)),
            Ok(Some(ip)) => vec![ip],
            Ok(None) => {
                let node = self.0.node().clone();
                match node.handle().resolve(&node, &name) {
                    Some(addresses) => addresses,
                    None => return Ok(Err(ErrorCode::NameUnresolvable)),
                }
            }
        };
        let stream = ResolveAddressStream {
            addresses: addresses.into_iter(),
        };
        Ok(Ok(self.0.table().push(stream)?))
    }
}

/// An IP literal (`Some`), a name to look up (`None`) or `invalid-argument`
/// (not a valid host name), as wasmtime-wasi's `url::Host::parse` decides
/// for ASCII names (IPv4 dotted quads; IPv6 with or without brackets).
fn parse(name: &str) -> Result<Option<IpAddr>, ErrorCode> {
    if let Ok(ip) = std::net::Ipv4Addr::from_str(name) {
        return Ok(Some(ip.into()));
    }
    let bare = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    if let Ok(ip) = Ipv6Addr::from_str(bare.unwrap_or(name)) {
        return Ok(Some(ip.into()));
    }
    let forbidden =
        |c: char| c.is_ascii_control() || c.is_ascii_whitespace() || "#%/:<>?@[\\]^|".contains(c);
    if name.is_empty() || name.contains(forbidden) {
        return Err(ErrorCode::InvalidArgument);
    }
    Ok(None)
}

impl<T: SimView> ip_name_lookup::HostResolveAddressStream for SimCtx<'_, T> {
    fn resolve_next_address(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> Wit<Option<IpAddress>> {
        let stream = self.0.table().get_mut(&this)?;
        Ok(Ok(stream.addresses.next().map(ip_from_std)))
    }

    fn subscribe(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe(self.0.table(), this)
    }

    fn drop(&mut self, this: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.0.table().delete(this)?;
        Ok(())
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for ResolveAddressStream {
    async fn ready(&mut self) {
        // The simulated resolver answers at once.
    }
}
