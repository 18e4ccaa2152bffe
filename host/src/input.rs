//! Reading the files a user names: only regular files, only up to a stated
//! size, so that no input (`/dev/zero`, a FIFO, a huge file) can fill the
//! machine's memory or hang the run.
//!
//! The file's type is checked before it is opened (opening a FIFO blocks
//! until a writer comes), and the read stops one byte past the cap whatever
//! the file's size claims.

use std::io::Read;
use std::path::Path;

use crate::limits::show_size;

/// The largest guest component socklab reads (the bundled Python guests are
/// about 18 MB).
pub const MAX_COMPONENT: u64 = 256 << 20;

/// The largest experiment file.
pub const MAX_EXPERIMENT: u64 = 1 << 20;

/// The largest messages file of an experiment.
pub const MAX_MESSAGES_FILE: u64 = 64 << 20;

/// Why a file could not be read, in words for a one-line error.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The whole of the regular file `path`, if it is one and holds at most
/// `cap` bytes; otherwise what is wrong with it, worded to follow the file's
/// name ("/dev/zero is a character device, ..."), naming `what` it should be
/// ("a guest component", "an experiment file").
pub fn read_capped(path: &Path, cap: u64, what: &str) -> Result<Vec<u8>, Refused> {
    let unreadable = |e: std::io::Error| Refused(format!("cannot be read: {e}"));
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Refused(format!(
            "is {}, not a regular file; give {what} as a file",
            kind_of(&meta)
        )));
    }
    if meta.len() > cap {
        return Err(too_big(cap, what));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > cap {
        return Err(too_big(cap, what));
    }
    Ok(bytes)
}

fn too_big(cap: u64, what: &str) -> Refused {
    Refused(format!(
        "is larger than {}, the most socklab reads as {what}",
        show_size(cap)
    ))
}

/// What kind of file `meta` describes, for an error: "a directory", "a FIFO".
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_directories_and_big_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dev = read_capped(Path::new("/dev/zero"), 10, "the file").unwrap_err();
        assert!(dev.0.contains("a character device"), "{dev}");
        let d = read_capped(dir.path(), 10, "the file").unwrap_err();
        assert!(d.0.contains("a directory"), "{d}");
        let big = dir.path().join("big");
        std::fs::write(&big, [0u8; 11]).unwrap();
        let e = read_capped(&big, 10, "the file").unwrap_err();
        assert!(e.0.contains("larger than 10B"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path it is given.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let f = read_capped(&fifo, 10, "the file").unwrap_err();
        assert!(f.0.contains("a FIFO"), "{f}");
        let small = dir.path().join("small");
        std::fs::write(&small, b"0123456789").unwrap();
        assert_eq!(read_capped(&small, 10, "the file").unwrap().len(), 10);
    }
}
