//! A client's messages: written inline, read from a file, or generated as
//! count × size. Generated messages start with their sequence number
//! (`#000042 `), and an echo carries it back, so a reply names the message it
//! answers: duplicates and reordering can be told apart, and the relay draws
//! each datagram's fate from that number rather than from arrival order.

use std::path::Path;

use super::file::MessagesDoc;

/// Generated messages' size when the file gives none.
pub const DEFAULT_SIZE: u64 = 64;

/// Generated messages when no `[messages]` is given anywhere.
pub const DEFAULT_COUNT: usize = 100;

/// The filler after a generated message's number.
const FILLER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The messages a client sends, and whether they carry sequence numbers.
#[derive(Debug, Clone)]
pub struct Messages {
    pub bytes: Vec<Vec<u8>>,
    /// Each message's sequence number, when generated.
    pub numbered: bool,
}

/// Resolve `doc` (relative paths against `base`); `cap` shortens a
/// generated run to at most that many messages.
pub fn resolve(doc: &MessagesDoc, base: &Path, cap: Option<usize>) -> Result<Messages, String> {
    let given = [
        doc.inline.is_some(),
        doc.file.is_some(),
        doc.count.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err("give one of `inline`, `file` or `count`, not several".into());
    }
    if doc.size.is_some() && doc.count.is_none() && (doc.inline.is_some() || doc.file.is_some()) {
        return Err(
            "`size` goes with `count` (generated messages), not with inline or file messages"
                .into(),
        );
    }
    let bytes: Vec<Vec<u8>> = if let Some(inline) = &doc.inline {
        inline.iter().map(|m| m.as_bytes().to_vec()).collect()
    } else if let Some(file) = &doc.file {
        let path = base.join(file);
        let text = std::fs::read(&path)
            .map_err(|e| format!("cannot read the messages file {}: {e}", path.display()))?;
        text.split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line).to_vec())
            .collect()
    } else {
        let count = doc.count.unwrap_or(DEFAULT_COUNT);
        let count = cap.map_or(count, |cap| count.min(cap));
        let size = doc.size.map_or(DEFAULT_SIZE, |s| s.0);
        return generate(count, size).map(|bytes| Messages {
            bytes,
            numbered: true,
        });
    };
    if let Some(bad) = bytes.iter().position(|m| m.contains(&b'\n')) {
        return Err(format!(
            "message {} holds a newline; TCP clients frame messages by lines",
            bad + 1
        ));
    }
    if bytes.is_empty() {
        return Err("no messages: give at least one".into());
    }
    let bytes = match cap {
        Some(cap) => bytes.into_iter().take(cap.max(1)).collect(),
        None => bytes,
    };
    Ok(Messages {
        bytes,
        numbered: false,
    })
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
    if size > 1 << 20 {
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
