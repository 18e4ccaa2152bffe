//! Every random choice the relay makes, drawn from the seed and from what a
//! datagram or segment *is* (its key), never from when it arrived.
//!
//! Two runs with the same seed therefore give every datagram and segment the
//! same fate, however the timings of the two runs differ.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Which way a datagram or segment travels through a relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the client, through the relay, to the server.
    ToServer,
    /// From the server, through the relay, back to the client.
    ToClient,
}

impl Direction {
    /// The name used in reports and in the draw: `to_server` or `to_client`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }
}

/// What identifies a datagram or a segment for the draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// A UDP datagram whose payload starts with `#` and ASCII digits (the
    /// lab's generated messages, `#000042 xxxx…`): that number. An echo
    /// server's reply carries the same number, so a message and its reply
    /// share a key (their directions still differ).
    Tag(u64),
    /// Any other UDP datagram: its index among the datagrams of this client
    /// in this direction, from 0.
    Index(u64),
    /// A TCP segment: the connection's index on this relay (from 0, in
    /// accept order) and the stream offset of the segment's first byte in
    /// this direction.
    ///
    /// Fates repeat when the segments do, that is when the sender's writes
    /// are read the same way: a sender that writes one message and waits for
    /// the answer (as the lab's clients do) has each message read as one
    /// segment starting at a message boundary. A sender that writes faster
    /// than the relay reads can have its bytes read in other chunks in
    /// another run, and then other offsets are drawn.
    Segment {
        /// Index of the connection on this relay, in accept order, from 0.
        connection: u64,
        /// Offset in this direction's byte stream of the segment's first byte.
        offset: u64,
    },
}

impl Key {
    /// The key of a UDP datagram: [`Key::Tag`] when the payload starts with
    /// `#` and at least one ASCII digit (at most 19 digits are read, so the
    /// number fits a `u64`), else [`Key::Index`] with `index`.
    pub fn for_datagram(payload: &[u8], index: u64) -> Key {
        let digits = payload
            .iter()
            .skip(1)
            .take(19)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if payload.first() != Some(&b'#') || digits == 0 {
            return Key::Index(index);
        }
        let number = payload[1..=digits]
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        Key::Tag(number)
    }
}

/// A number in `[0, 1)` drawn from `(seed, link, direction, key, purpose)`.
///
/// The value is the SHA-256 digest of these bytes, in this order:
/// - `seed` as 8 bytes, little-endian;
/// - `link` as its length (4 bytes, little-endian) and its UTF-8 bytes;
/// - the direction's name (`to_server` or `to_client`) the same way;
/// - the key: one tag byte then little-endian `u64`s — `0x01` and the number
///   for [`Key::Tag`], `0x02` and the index for [`Key::Index`], `0x03`, the
///   connection and the offset for [`Key::Segment`];
/// - `purpose` (`"loss"`, `"duplicate"`, `"loss/2"`, …) as a length and bytes.
///
/// The digest's first 8 bytes, read big-endian, keep their top 53 bits,
/// which are divided by 2^53: every value is a multiple of 2^-53 below 1.
/// A choice with probability `p` happens when the draw is `< p`, so `p = 0`
/// never happens and `p = 1` always does.
pub fn draw(seed: u64, link: &str, direction: Direction, key: Key, purpose: &str) -> f64 {
    let mut hash = Sha256::new();
    hash.update(seed.to_le_bytes());
    let field = |hash: &mut Sha256, bytes: &[u8]| {
        // A name longer than 4 GiB cannot occur; saturating keeps this total.
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        hash.update(len.to_le_bytes());
        hash.update(bytes);
    };
    field(&mut hash, link.as_bytes());
    field(&mut hash, direction.name().as_bytes());
    match key {
        Key::Tag(n) => {
            hash.update([1u8]);
            hash.update(n.to_le_bytes());
        }
        Key::Index(i) => {
            hash.update([2u8]);
            hash.update(i.to_le_bytes());
        }
        Key::Segment { connection, offset } => {
            hash.update([3u8]);
            hash.update(connection.to_le_bytes());
            hash.update(offset.to_le_bytes());
        }
    }
    field(&mut hash, purpose.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_is_a_function_of_its_fields() {
        let a = draw(7, "l", Direction::ToServer, Key::Tag(3), "loss");
        assert_eq!(a, draw(7, "l", Direction::ToServer, Key::Tag(3), "loss"));
        assert!((0.0..1.0).contains(&a));
        assert_ne!(a, draw(8, "l", Direction::ToServer, Key::Tag(3), "loss"));
        assert_ne!(a, draw(7, "m", Direction::ToServer, Key::Tag(3), "loss"));
        assert_ne!(a, draw(7, "l", Direction::ToClient, Key::Tag(3), "loss"));
        assert_ne!(a, draw(7, "l", Direction::ToServer, Key::Index(3), "loss"));
        assert_ne!(a, draw(7, "l", Direction::ToServer, Key::Tag(3), "dup"));
    }

    #[test]
    fn draw_spreads_over_the_unit_interval() {
        let n = 10_000u64;
        let below: usize = (0..n)
            .filter(|&i| draw(1, "l", Direction::ToServer, Key::Index(i), "loss") < 0.3)
            .count();
        // 30% of 10 000 is 3 000; the binomial standard deviation is ~46.
        assert!((2_800..3_200).contains(&below), "{below}");
    }

    #[test]
    fn datagram_keys_read_the_lab_tag() {
        assert_eq!(Key::for_datagram(b"#000042 xxxx\n", 9), Key::Tag(42));
        assert_eq!(Key::for_datagram(b"#7", 9), Key::Tag(7));
        assert_eq!(Key::for_datagram(b"#x", 9), Key::Index(9));
        assert_eq!(Key::for_datagram(b"hello", 9), Key::Index(9));
        assert_eq!(Key::for_datagram(b"", 9), Key::Index(9));
        // 25 digits: only the first 19 are read, and no overflow.
        assert_eq!(
            Key::for_datagram(b"#9999999999999999999999999", 0),
            Key::Tag(9_999_999_999_999_999_999)
        );
    }
}
