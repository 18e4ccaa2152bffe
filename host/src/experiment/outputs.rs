//! The files a lab run writes (`report.json`, `rtt.svg`, the `--pcap`
//! capture), opened before any guest runs so that an unwritable place is
//! found out at once, and written at the end, report first, each write's
//! failure kept so that the others are still written.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::bad_input;

/// One output file, open and empty (or holding its header).
pub struct Output {
    /// Where it is written.
    pub path: PathBuf,
    file: BufWriter<File>,
}

/// Every file a lab run will write.
pub struct Outputs {
    /// `report.json`.
    pub report: Output,
    /// `rtt.svg`, unless `--no-chart`.
    pub chart: Option<Output>,
    /// The `--pcap` capture.
    pub pcap: Option<Output>,
}

impl Outputs {
    /// Create `dir` and open `report.json` (and `rtt.svg` when `chart`) in
    /// it, and the capture file at `pcap` with its header written: a place
    /// that cannot be created is bad input (exit 2), a header that cannot
    /// be written is an error naming the file (exit 1), both before any
    /// guest runs.
    pub fn open(dir: &Path, chart: bool, pcap: Option<&Path>) -> Result<Outputs> {
        if let Err(e) = std::fs::create_dir_all(dir) {
            bad_input!(
                "cannot create the output directory {}: {e}; give a writable --out DIR",
                dir.display()
            );
        }
        let report = Output::create(&dir.join("report.json"), "--out DIR")?;
        let chart = match chart {
            true => Some(Output::create(&dir.join("rtt.svg"), "--out DIR")?),
            false => None,
        };
        let pcap = match pcap {
            Some(path) => {
                let mut output = Output::create(path, "--pcap FILE")?;
                output.write_with(socklab_relay::write_pcap_header)?;
                Some(output)
            }
            None => None,
        };
        Ok(Outputs {
            report,
            chart,
            pcap,
        })
    }
}

impl Output {
    fn create(path: &Path, flag: &str) -> Result<Output> {
        match File::create(path) {
            Ok(file) => Ok(Output {
                path: path.to_path_buf(),
                file: BufWriter::new(file),
            }),
            Err(e) => bad_input!(
                "cannot create {}: {e}; give a writable {flag}",
                path.display()
            ),
        }
    }

    /// Write with `write` and flush; a failure is one line naming the file.
    pub fn write_with(
        &mut self,
        write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<()> {
        let written = write(&mut self.file).and_then(|()| self.file.flush());
        written.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))
    }

    /// Write `bytes` and flush.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.write_with(|out| out.write_all(bytes))
    }
}
