//! The compiled-component cache: a second load is a hit, an entry whose
//! bytes changed is rebuilt (never loaded), and a rebuilt guest still runs.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::*;
use socklab::exchange::{self, ClientSpec, ServerSpec};
use socklab::report::Expect;
use socklab::runtime::Runtime;
use socklab::runtime::cache::Cache;

/// A fresh cache directory for one test, not yet created (as on a first
/// run), removed when dropped.
struct Dir(tempfile::TempDir);

impl Dir {
    fn path(&self) -> PathBuf {
        self.0.path().join("cache")
    }
}

fn scratch() -> Dir {
    Dir(tempfile::tempdir().unwrap())
}

/// A Lab of its own (so nothing is served from another Lab's memory) that
/// uses the cache in `dir`.
fn lab_with_cache(dir: &Path) -> Runtime {
    let mut lab = Runtime::new(None).expect("creating a lab");
    lab.cache = Some(Cache::open(dir.to_path_buf()).expect("opening the cache"));
    lab
}

fn counts(lab: &Runtime) -> (u64, u64) {
    let cache = lab.cache.as_ref().unwrap();
    (
        cache.hits.load(Ordering::Relaxed),
        cache.misses.load(Ordering::Relaxed),
    )
}

/// The one entry in `dir`.
fn entry(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one guest loaded, one entry: {entries:?}");
    entries.into_iter().next().unwrap()
}

#[test]
fn cache_second_load_hits_and_directory_is_private() {
    let dir = scratch();
    let first = lab_with_cache(&dir.path());
    first.load("tcp-echo-server").unwrap();
    assert_eq!(counts(&first), (0, 1), "a cold cache compiles");

    let second = lab_with_cache(&dir.path());
    second.load("tcp-echo-server").unwrap();
    assert_eq!(
        counts(&second),
        (1, 0),
        "the second process-level load is a hit"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the cache directory is private");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_corrupt_entry_is_rebuilt_not_loaded() {
    let dir = scratch();
    lab_with_cache(&dir.path()).load("tcp-echo-server").unwrap();
    let path = entry(&dir.path());

    // Flip one byte inside the compiled code (the middle of the payload).
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&path, &bytes).unwrap();

    let lab = Arc::new(lab_with_cache(&dir.path()));
    let server = lab.load("tcp-echo-server").unwrap();
    assert_eq!(
        counts(&lab),
        (0, 1),
        "the tampered entry is a miss and is rebuilt"
    );
    assert_ne!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the entry was rewritten"
    );

    // The rebuilt guest serves as before.
    let client = ClientSpec {
        expect: Expect::Echo,
        ..ClientSpec::new(lab.load("tcp-client").unwrap(), vec![b"after".to_vec()])
    };
    let run = within(
        "an exchange with the rebuilt guest",
        exchange::exchange(&lab, ServerSpec::new(server, any_port(V4)), client),
    )
    .await;
    assert!(
        run.ok(),
        "{}",
        socklab::report::Report::new(vec![run]).transcript()
    );

    let again = lab_with_cache(&dir.path());
    again.load("tcp-echo-server").unwrap();
    assert_eq!(counts(&again), (1, 0), "the rebuilt entry is good again");
}

#[test]
fn cache_truncated_entry_is_rebuilt() {
    let dir = scratch();
    lab_with_cache(&dir.path()).load("udp-echo-server").unwrap();
    let path = entry(&dir.path());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();

    let lab = lab_with_cache(&dir.path());
    lab.load("udp-echo-server").unwrap();
    assert_eq!(counts(&lab), (0, 1), "a truncated entry is a miss");
}
