//! The files a lab run writes (`report.json`, `rtt.svg`, the `--pcap`
//! capture), opened before any guest runs so that an unwritable place is
//! found out at once, and written at the end, report first, each write's
//! failure kept so that the others are still written.
//!
//! Under `--check-determinism` ([`Kept`]) each file's bytes are also kept
//! in memory to be compared; the second run writes nothing to disk at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::bad_input;

/// The bytes of every file one run wrote, for `--check-determinism`.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    /// The second run: its files go to memory only (their paths stay
    /// untouched) and it prints nothing.
    pub only_memory: bool,
    /// Each file's path and the bytes written to it, in the order first
    /// written.
    files: Arc<Mutex<Vec<KeptFile>>>,
}

/// A file's path and the bytes written to it.
pub type KeptFile = (PathBuf, Vec<u8>);

impl Kept {
    /// Where a run's files are kept: also (`only_memory` false: the first
    /// run) or only (the second).
    pub fn new(only_memory: bool) -> Kept {
        Kept {
            only_memory,
            files: Arc::default(),
        }
    }

    /// Appends `bytes` to what `path` holds.
    fn keep(&self, path: &Path, bytes: &[u8]) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        match files.iter_mut().find(|(p, _)| p == path) {
            Some((_, held)) => held.extend_from_slice(bytes),
            None => files.push((path.to_path_buf(), bytes.to_vec())),
        }
    }

    /// Every file's path and bytes so far.
    pub fn files(&self) -> Vec<KeptFile> {
        self.files.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One output file, open and empty (or holding its header).
pub struct Output {
    /// Where it is written.
    pub path: PathBuf,
    /// The open file; `None` for a second `--check-determinism` run.
    file: Option<BufWriter<File>>,
    /// Where its bytes are also kept, under `--check-determinism`.
    kept: Option<Kept>,
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
    pub fn open(
        dir: &Path,
        chart: bool,
        pcap: Option<&Path>,
        kept: Option<&Kept>,
    ) -> Result<Outputs> {
        let only_memory = kept.is_some_and(|k| k.only_memory);
        if !only_memory && let Err(e) = std::fs::create_dir_all(dir) {
            bad_input!(
                "cannot create the output directory {}: {e}; give a writable --out DIR",
                dir.display()
            );
        }
        let report = Output::create(&dir.join("report.json"), "--out DIR", kept)?;
        let chart = match chart {
            true => Some(Output::create(&dir.join("rtt.svg"), "--out DIR", kept)?),
            false => None,
        };
        let pcap = match pcap {
            Some(path) => {
                let mut output = Output::create(path, "--pcap FILE", kept)?;
                output.write_with(|mut out| socklab_relay::write_pcap_header(&mut out))?;
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
    fn create(path: &Path, flag: &str, kept: Option<&Kept>) -> Result<Output> {
        let kept = kept.cloned();
        if kept.as_ref().is_some_and(|k| k.only_memory) {
            return Ok(Output {
                path: path.to_path_buf(),
                file: None,
                kept,
            });
        }
        match File::create(path) {
            Ok(file) => Ok(Output {
                path: path.to_path_buf(),
                file: Some(BufWriter::new(file)),
                kept,
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
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        let written = match (&mut self.file, &self.kept) {
            (file, Some(kept)) => {
                let mut bytes = Vec::new();
                write(&mut bytes).and_then(|()| {
                    kept.keep(&self.path, &bytes);
                    match file {
                        Some(file) => file.write_all(&bytes).and_then(|()| file.flush()),
                        None => Ok(()),
                    }
                })
            }
            (Some(file), None) => write(file).and_then(|()| file.flush()),
            (None, None) => Ok(()),
        };
        written.map_err(|e| anyhow::anyhow!("cannot write {}: {e}", self.path.display()))
    }

    /// Write `bytes` and flush.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.write_with(|out| out.write_all(bytes))
    }
}
