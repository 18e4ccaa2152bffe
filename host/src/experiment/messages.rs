//! A client's messages: written inline, read from a file, or generated as
//! count × size. Generated messages start with their sequence number
//! (`#000042 `), and an echo carries it back, so a reply names the message it
//! answers: duplicates and reordering can be told apart, and the relay draws
//! each datagram's fate from that number rather than from arrival order.

use std::ops::Range;
use std::path::Path;

use super::file::{FileError, MAX_MESSAGES, MessagesDoc};
use crate::input::{MAX_MESSAGES_FILE, read_capped};

/// Generated messages' size when the file gives none.
pub const DEFAULT_SIZE: u64 = 64;

/// Generated messages when no `[messages]` is given anywhere.
pub const DEFAULT_COUNT: usize = 100;

/// The filler after a generated message's number.
const FILLER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The messages a client sends, and whether they carry sequence numbers.
#[derive(Debug, Clone)]
pub struct Messages {
    /// The messages, in order.
    pub bytes: Vec<Vec<u8>>,
    /// Each message's sequence number, when generated.
    pub numbered: bool,
}

/// The largest message of an experiment.
pub const MAX_SIZE: u64 = 1 << 20;

/// Resolve `doc` (relative paths against `base`); `cap` shortens a run to
/// at most that many messages. An error points at the field it is about,
/// or at `whole` (the table) when it is about several.
pub fn resolve(
    doc: &MessagesDoc,
    base: &Path,
    cap: Option<usize>,
    whole: Range<usize>,
) -> Result<Messages, FileError> {
    check_fields(doc, &whole)?;
    let (bytes, span) = if let Some(inline) = &doc.inline {
        let bytes = inline
            .get_ref()
            .iter()
            .map(|m| m.as_bytes().to_vec())
            .collect();
        (bytes, inline.span())
    } else if let Some(file) = &doc.file {
        let bytes = read_file(&base.join(file.get_ref()), file.span())?;
        (bytes, file.span())
    } else {
        return generated(doc, cap, whole);
    };
    check_given(&bytes).map_err(|e| FileError::at(span, e))?;
    let bytes = match cap {
        Some(cap) => bytes.into_iter().take(cap.max(1)).collect(),
        None => bytes,
    };
    Ok(Messages {
        bytes,
        numbered: false,
    })
}

/// One source of messages, and `size` only with `count`.
fn check_fields(doc: &MessagesDoc, whole: &Range<usize>) -> Result<(), FileError> {
    let given = [
        doc.inline.is_some(),
        doc.file.is_some(),
        doc.count.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(FileError::at(
            whole.clone(),
            "messages: give one of `inline`, `file` or `count`, not several",
        ));
    }
    if let (Some(size), None, true) = (
        &doc.size,
        &doc.count,
        doc.inline.is_some() || doc.file.is_some(),
    ) {
        return Err(FileError::at(
            size.span(),
            "`size` goes with `count` (generated messages), not with inline or file messages",
        ));
    }
    Ok(())
}

/// `count` × `size` generated messages (at most `cap`).
fn generated(
    doc: &MessagesDoc,
    cap: Option<usize>,
    whole: Range<usize>,
) -> Result<Messages, FileError> {
    let count = doc
        .count
        .as_ref()
        .map_or(DEFAULT_COUNT, |c| c.get_ref().0 as usize);
    let count = cap.map_or(count, |cap| count.min(cap));
    let (size, span) = match &doc.size {
        Some(size) => (size.get_ref().0, size.span()),
        None => (DEFAULT_SIZE, whole),
    };
    generate(count, size)
        .map(|bytes| Messages {
            bytes,
            numbered: true,
        })
        .map_err(|e| FileError::at(span, e))
}

/// Messages written out (inline or in a file): no newline in one, none over
/// 1 MiB, at least one, at most [`MAX_MESSAGES`].
fn check_given(bytes: &[Vec<u8>]) -> Result<(), String> {
    if let Some(bad) = bytes.iter().position(|m| m.contains(&b'\n')) {
        return Err(format!(
            "message {} holds a newline; TCP clients frame messages by lines",
            bad + 1
        ));
    }
    if let Some(bad) = bytes.iter().position(|m| m.len() as u64 > MAX_SIZE) {
        return Err(format!(
            "message {} is over 1 MiB; keep messages smaller",
            bad + 1
        ));
    }
    if bytes.is_empty() {
        return Err("no messages: give at least one".into());
    }
    if bytes.len() > MAX_MESSAGES {
        return Err(format!(
            "{} messages is more than the {MAX_MESSAGES} a client may send",
            bytes.len()
        ));
    }
    Ok(())
}

/// One message per line of the file at `path` (a regular file under
/// [`MAX_MESSAGES_FILE`]).
fn read_file(path: &Path, span: Range<usize>) -> Result<Vec<Vec<u8>>, FileError> {
    let text = read_capped(path, MAX_MESSAGES_FILE, "a messages file")
        .map_err(|e| FileError::at(span, format!("the messages file {} {e}", path.display())))?;
    Ok(text
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
        .collect())
}

/// `count` messages of `size` bytes, numbered from 1.
pub fn generate(count: usize, size: u64) -> Result<Vec<Vec<u8>>, String> {
    if count == 0 {
        return Err("`count` is 0: give at least one message".into());
    }
    let tag_len = tag(count as u64).len() as u64;
    if size < tag_len {
        return Err(format!(
            "`size` {size} is too small: each message starts with its sequence number ({tag_len} bytes)"
        ));
    }
    if size > MAX_SIZE {
        return Err(format!(
            "`size` {size} is over 1 MiB; keep messages smaller"
        ));
    }
    Ok((1..=count as u64)
        .map(|seq| {
            let mut message = tag(seq).into_bytes();
            let pad = size as usize - message.len();
            message.extend(FILLER.iter().cycle().take(pad));
            message
        })
        .collect())
}

/// The prefix of message `seq`: `#` and at least six digits, then a space.
fn tag(seq: u64) -> String {
    format!("#{seq:06} ")
}

/// The sequence number a message or reply starts with, if any.
pub fn seq_of(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_prefix(b"#")?;
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_messages_are_numbered_and_sized() {
        let messages = generate(3, 20).unwrap();
        assert_eq!(messages.len(), 3);
        assert!(messages.iter().all(|m| m.len() == 20));
        assert_eq!(&messages[1][..8], b"#000002 ");
        assert_eq!(seq_of(&messages[2]), Some(3));
        assert_eq!(seq_of(b"hello"), None);
        assert!(generate(2, 4).is_err());
        assert!(generate(0, 64).is_err());
    }
}
