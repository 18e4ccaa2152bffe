//! The Rust side of the WIT socklab's simulated network serves: the seven
//! `wasi:sockets` 0.2.12 interfaces and the two `wasi:clocks` ones, with
//! `wasi:io` mapped to wasmtime-wasi-io's types (as wasmtime-wasi's own
//! bindings do), so that the simulation's pollables mix with every other
//! pollable in one `wasi:io/poll` list.
//!
//! Every import is synchronous: nothing here blocks inside a call. Waiting
//! happens only in `wasi:io/poll`, through each resource's
//! [`Pollable`](wasmtime_wasi_io::poll::Pollable), on the simulation's
//! executor.

// The generated items carry the WIT's doc comments; the few it generates
// without one (helper methods) are not ours to document.
#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package socklab:sim;
            world simulated {
                import wasi:sockets/network@0.2.12;
                import wasi:sockets/instance-network@0.2.12;
                import wasi:sockets/udp@0.2.12;
                import wasi:sockets/udp-create-socket@0.2.12;
                import wasi:sockets/tcp@0.2.12;
                import wasi:sockets/tcp-create-socket@0.2.12;
                import wasi:sockets/ip-name-lookup@0.2.12;
                import wasi:clocks/monotonic-clock@0.2.12;
                import wasi:clocks/wall-clock@0.2.12;
            }
        ",
        world: "socklab:sim/simulated",
        imports: { default: trappable },
        require_store_data_send: true,
        with: {
            "wasi:io": wasmtime_wasi_io::bindings::wasi::io,
            "wasi:sockets/network.network": crate::sockets::Network,
            "wasi:sockets/udp.udp-socket": crate::sockets::udp::UdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": crate::sockets::udp::IncomingDatagramStream,
            "wasi:sockets/udp.outgoing-datagram-stream": crate::sockets::udp::OutgoingDatagramStream,
            "wasi:sockets/tcp.tcp-socket": crate::sockets::tcp::TcpSocket,
            "wasi:sockets/ip-name-lookup.resolve-address-stream": crate::sockets::lookup::ResolveAddressStream,
        },
    });
}

pub use generated::wasi::clocks;
pub use generated::wasi::sockets;
