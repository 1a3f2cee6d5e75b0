//! Small-string tools for the online checkers' hot paths: [`Names`] gives
//! every distinct name (a key, a node) a dense id and keeps all the names
//! back to back in one buffer, so that a million keys cost no allocation
//! each; [`SmallText`] holds a short text inline.

use hashbrown::HashTable;

/// Names interned to dense ids `0, 1, 2, ...` in order of first sight.
#[derive(Default)]
pub(crate) struct Names {
    /// Ids, found by the hash of their name; each slot holds its name's
    /// first bytes, so that a lookup reads the names' text only for names
    /// longer than a word.
    table: HashTable<Slot>,
    /// Every name, back to back.
    text: String,
    /// Where each name ends in `text` (it starts where the previous one
    /// ends).
    ends: Vec<usize>,
}

/// A name in [`Names::table`]: its id, length and first 8 bytes (zero
/// padded).
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    len: u32,
    head: u64,
}

impl Slot {
    /// Whether this is the slot of `name` (whose head is `head`).
    #[inline(always)]
    fn is(&self, name: &[u8], head: u64, text: &str, ends: &[usize]) -> bool {
        self.head == head
            && self.len as usize == name.len()
            && (name.len() <= 8 || same(span(text, ends, self.id), name))
    }
}

/// The first 8 bytes of `b`, zero padded.
#[inline(always)]
fn head(b: &[u8]) -> u64 {
    if b.len() >= 8 {
        load8(b, 0)
    } else {
        let mut w = 0u64;
        for (k, &c) in b.iter().enumerate() {
            w |= u64::from(c) << (8 * k);
        }
        w
    }
}

/// Up to this many names are looked up by comparing them all (no hash).
const FEW: usize = 8;

impl Names {
    /// The id of `name`, given the next free id if it is new.
    #[inline]
    pub fn id(&mut self, name: &str) -> u32 {
        let b = name.as_bytes();
        if self.ends.len() <= FEW {
            if let Some(id) = self.scan(b) {
                return id;
            }
        }
        let h = hash_bytes(b);
        let hd = head(b);
        let (text, ends) = (&self.text, &self.ends);
        if self.ends.len() > FEW {
            if let Some(slot) = self.table.find(h, |s| s.is(b, hd, text, ends)) {
                return slot.id;
            }
        }
        let id = self.ends.len() as u32;
        self.text.push_str(name);
        self.ends.push(self.text.len());
        let slot = Slot {
            id,
            len: b.len() as u32,
            head: hd,
        };
        let (text, ends) = (&self.text, &self.ends);
        self.table
            .insert_unique(h, slot, |s| hash_bytes(span(text, ends, s.id)));
        id
    }

    /// The id of `name` among few names, by comparing them all.
    #[inline]
    fn scan(&self, name: &[u8]) -> Option<u32> {
        let mut start = 0;
        for (id, &end) in self.ends.iter().enumerate() {
            if same(&self.text.as_bytes()[start..end], name) {
                return Some(id as u32);
            }
            start = end;
        }
        None
    }

    /// The id of `name`, if it was interned.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<u32> {
        let b = name.as_bytes();
        let (text, ends) = (&self.text, &self.ends);
        self.table
            .find(hash_bytes(b), |s| s.is(b, head(b), text, ends))
            .map(|s| s.id)
    }

    /// The name of `id` (`""` for an id never given).
    #[inline]
    pub fn name(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0)
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or("")
    }

    /// Whether `id` is the id of `name` (false for an id never given).
    #[inline]
    pub fn is(&self, id: u32, name: &str) -> bool {
        same(self.name(id).as_bytes(), name.as_bytes())
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Forgets every name (ids start again from 0).
    pub fn clear(&mut self) {
        self.table.clear();
        self.text.clear();
        self.ends.clear();
    }
}

#[inline]
fn span<'a>(text: &'a str, ends: &[usize], id: u32) -> &'a [u8] {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text.as_bytes()[start..ends[i]]
}

#[inline(always)]
fn load8(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes([
        b[i],
        b[i + 1],
        b[i + 2],
        b[i + 3],
        b[i + 4],
        b[i + 5],
        b[i + 6],
        b[i + 7],
    ])
}

#[inline(always)]
fn load4(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}

/// Byte equality, without a library call for short texts (overlapping
/// loads cover every byte).
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        8..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        _ => a == b,
    }
}

const K1: u64 = 0xa076_1d64_78bd_642f;
const K2: u64 = 0xe703_7ed1_a0b4_28db;

#[inline(always)]
fn mix(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

/// A fast hash of a short text (in the manner of wyhash): every byte
/// counts, the high bits (which the table compares first) are mixed.
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let n = b.len();
    let (x, y) = match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        ),
        4..=7 => (load4(b, 0), load4(b, n - 4)),
        8..=16 => (load8(b, 0), load8(b, n - 8)),
        _ => {
            let mut h = n as u64 ^ K1;
            let mut chunks = b.chunks_exact(16);
            for c in &mut chunks {
                h = mix(load8(c, 0) ^ K1, load8(c, 8) ^ h);
            }
            return mix(h ^ K2, load8(b, n - 16) ^ load8(b, n - 8) ^ n as u64);
        }
    };
    mix(x ^ K1, y ^ K2 ^ n as u64)
}

/// A text of up to 22 bytes kept inline, longer ones on the heap.
#[derive(Clone, Debug)]
pub(crate) enum SmallText {
    Inline(u8, [u8; 22]),
    Heap(String),
}

impl Default for SmallText {
    fn default() -> Self {
        SmallText::Inline(0, [0; 22])
    }
}

impl SmallText {
    /// A text holding `s`.
    pub fn new(s: &str) -> Self {
        let mut t = SmallText::default();
        t.set(s);
        t
    }

    /// Replaces the text by `s` (reusing a heap buffer).
    #[inline]
    pub fn set(&mut self, s: &str) {
        let b = s.as_bytes();
        match self {
            SmallText::Heap(h) if b.len() > 22 => {
                h.clear();
                h.push_str(s);
            }
            _ if b.len() <= 22 => {
                let mut a = [0u8; 22];
                a[..b.len()].copy_from_slice(b);
                *self = SmallText::Inline(b.len() as u8, a);
            }
            _ => *self = SmallText::Heap(s.to_string()),
        }
    }

    /// The text's bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            SmallText::Inline(n, a) => &a[..usize::from(*n).min(22)],
            SmallText::Heap(h) => h.as_bytes(),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes()).unwrap_or("")
    }

    /// Whether the text is `s`.
    #[inline]
    pub fn is(&self, s: &[u8]) -> bool {
        same(self.bytes(), s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_dense_ids_in_order_and_keep_their_text() {
        let mut n = Names::default();
        let words: Vec<String> = (0..2000)
            .map(|i| match i % 5 {
                0 => format!("k{i}"),
                1 => "x".repeat(i % 40),
                2 => format!("é{i}€"),
                3 => format!("[{i},\"a\"]"),
                _ => format!("{i}"),
            })
            .collect();
        let mut expect: Vec<&str> = Vec::new();
        for w in &words {
            let id = n.id(w);
            if id as usize == expect.len() {
                expect.push(w);
            }
            assert_eq!(n.name(id), w.as_str());
            assert_eq!(n.get(w), Some(id));
        }
        assert_eq!(n.len(), expect.len());
        for (i, w) in expect.iter().enumerate() {
            assert_eq!(n.id(w), i as u32);
        }
        assert_eq!(n.get("absent"), None);
        assert_eq!(n.name(u32::MAX), "");
        n.clear();
        assert_eq!(n.len(), 0);
        assert_eq!(n.get("k0"), None);
        assert_eq!(n.id("k5"), 0);
    }

    #[test]
    fn equality_and_hash_see_every_byte() {
        for len in 0..40 {
            let a: Vec<u8> = (0..len as u8).map(|i| b'a' + i % 26).collect();
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 1;
                assert!(!same(&a, &b), "{len} {i}");
                assert_ne!(hash_bytes(&a), hash_bytes(&b), "{len} {i}");
            }
            assert!(same(&a, &a.clone()));
            assert!(!same(&a, &a[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn small_texts_hold_any_length() {
        let mut t = SmallText::default();
        for s in [
            "",
            "1",
            "null",
            &"x".repeat(22),
            &"y".repeat(23),
            "é",
            &"z".repeat(100),
            "2",
        ] {
            t.set(s);
            assert_eq!(t.as_str(), s);
            assert!(t.is(s.as_bytes()));
            assert_eq!(SmallText::new(s).as_str(), s);
        }
    }
}
