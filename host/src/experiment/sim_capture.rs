//! `--pcap` on the simulated network: the simulation itself records every
//! IP packet each node sends (`socklab_sim::Handle::capture_to`), in
//! simulated time, into memory; at the end its records go into the capture
//! file, whose header [`Outputs::open`](super::outputs::Outputs::open)
//! wrote before any guest ran, as on the real network.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

/// A capture the simulation is taking for a lab run.
pub struct SimCapture {
    sim: socklab_sim::Handle,
    bytes: Buffer,
}

/// The in-memory pcap file the simulation writes into, shared with the
/// [`SimCapture`] that reads it back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SimCapture {
    /// Starts the capture on the simulation this thread runs, if any (on
    /// the real network the relays capture instead: `None`).
    pub fn start() -> Result<Option<SimCapture>> {
        let Some(sim) = socklab_sim::exec::try_handle() else {
            return Ok(None);
        };
        let bytes = Buffer::default();
        sim.capture_to(bytes.clone())
            .context("cannot start the simulated network's capture")?;
        Ok(Some(SimCapture { sim, bytes }))
    }

    /// Stops the capture: how many packets it holds and its pcap records
    /// (the file without its header, which the output holds already).
    pub fn finish(self) -> Result<(usize, Vec<u8>)> {
        let captured = self
            .sim
            .finish_capture()
            .context("the simulated network's capture failed")?;
        let bytes = std::mem::take(&mut *self.bytes.0.lock().unwrap_or_else(|e| e.into_inner()));
        let mut header = Vec::new();
        socklab_relay::write_pcap_header(&mut header)?;
        let records = bytes
            .strip_prefix(header.as_slice())
            .context("the simulated network's capture has no pcap header")?;
        Ok((captured.packets as usize, records.to_vec()))
    }
}
