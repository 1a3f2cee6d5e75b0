//! The sequential specifications (models) and their compact, interned form.
//!
//! Before searching, every value in the history is interned to a small
//! integer, so that a model state is a `u32` and a step is a few integer
//! comparisons. Both models share one set of operation kinds:
//!
//! | kind        | register (`read`/`write`/`cas`)       | kv (`get`/`put`/`append`)   |
//! |-------------|---------------------------------------|-----------------------------|
//! | `Read v`    | ok read: legal iff state = v          | ok get: legal iff state = v |
//! | `Write v`   | write: state := v                     | put: state := v             |
//! | `Cas o n`   | ok cas: legal iff state = o; := n     | —                           |
//! | `CasFailed o` | failed cas: legal iff state ≠ o     | —                           |
//! | `CasMaybe o n` | indeterminate cas: if state = o then := n (always legal) | — |
//! | `Append a`  | —                                     | state := state ++ a         |
//!
//! `Read` and `CasFailed` never change the state ("read-only"), which the
//! search exploits (see [`super::search`]).
//!
//! The models whose state is not one value (mutex, queues, set,
//! multi-register) have kinds of their own, listed here too so that every
//! op is one [`COp`]; their machine is in [`super::structures`].

use super::fxhash::FxHashMap;
use super::lists::Lists;

/// What an operation does to the model, with interned arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Observes the state: legal iff it equals `a`.
    Read,
    /// Sets the state to `a`.
    Write,
    /// Legal iff the state is `a`; sets it to `b`.
    Cas,
    /// Legal iff the state is not `a`; changes nothing.
    CasFailed,
    /// Always legal; if the state is `a`, sets it to `b`.
    CasMaybe,
    /// Appends the string `a` to the state (kv only).
    Append,
    /// Mutex: legal iff the lock is free; takes it.
    Acquire,
    /// Mutex: legal iff the lock is held; frees it.
    Release,
    /// Queue: adds the value `a`.
    Enqueue,
    /// Queue: legal iff `a` can come out (unordered: it is in the queue;
    /// FIFO: it is at the front); takes it out.
    Dequeue,
    /// FIFO queue, indeterminate dequeue: takes the front out, if any
    /// (always legal).
    DequeueMaybe,
    /// Set: adds the value `a`.
    Add,
    /// Set: legal iff the state is the set whose list id is `a`.
    ReadSet,
    /// Multi-register: the transaction whose micro-ops are the list `a`,
    /// with at least one write.
    Txn,
    /// Multi-register: a transaction of reads only, legal iff each read
    /// matches.
    TxnRead,
}

impl Kind {
    /// True for kinds that never change the state.
    #[inline]
    pub(crate) fn read_only(self) -> bool {
        matches!(
            self,
            Kind::Read | Kind::CasFailed | Kind::ReadSet | Kind::TxnRead
        )
    }
}

/// One operation in compact form: kind, key slot (for unsplit histories) and
/// two interned arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct COp {
    pub kind: Kind,
    pub key: u32,
    pub a: u32,
    pub b: u32,
}

/// Interned values: id 0 is the initial value of every key.
///
/// Every distinct string has exactly one id, so comparing states is
/// comparing ids, and the search's memo recognises equal states. A value
/// read from the history is stored as its text ("flat"); the result of an
/// append is stored as a pair (parent id, suffix id) and never written out
/// during the search: a kv key's value grows with every append, and copying
/// and hashing the whole string for every new state made appends cost time
/// and memory proportional to the string's length. Instead each id carries
/// a polynomial hash of its text (modulo 2^64, with an odd base) and the
/// text's length, both computed in O(1) for a concatenation, and ids are
/// found by (hash, length). Hashes can collide (and modulo 2^64 some
/// strings built on purpose do), so a candidate is accepted only after its
/// text is compared byte by byte with the wanted one: equal ids if and only
/// if equal strings, whatever the hash does; a collision only costs a
/// comparison. Such comparisons happen only when a new concatenation equals
/// an existing string, which is rare.
#[derive(Clone, Debug)]
pub(crate) struct Values {
    nodes: Vec<Node>,
    /// Texts of flat nodes.
    texts: Vec<String>,
    /// (hash, length) -> the last id with them; `Node::same` chains the others.
    index: FxHashMap<(u64, u32), u32>,
    scratch: (Vec<u8>, Vec<u8>),
    /// Interned lists of ids, for models whose arguments or states are
    /// compound (a set a read returned, a transaction, a queue).
    pub lists: Lists,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    /// Hash of the text: sum of (byte + 1) * B^(position from the end), mod 2^64.
    hash: u64,
    /// B^length mod 2^64.
    pow: u64,
    len: u32,
    /// `FLAT` for a flat node, else the prefix's id.
    parent: u32,
    /// For a flat node: its index in `texts`; else the suffix's id.
    piece: u32,
    /// The previous id with the same (hash, length), or `NO_ID`.
    same: u32,
}

const FLAT: u32 = u32::MAX;
const NO_ID: u32 = u32::MAX;
/// The hash base (odd, so that multiplying by it is invertible mod 2^64).
const BASE: u64 = 0x9E37_79B9_7F4A_7C15 | 1;

/// BASE^e mod 2^64.
fn base_pow(mut e: u64) -> u64 {
    let (mut r, mut b) = (1u64, BASE);
    while e > 0 {
        if e & 1 == 1 {
            r = r.wrapping_mul(b);
        }
        b = b.wrapping_mul(b);
        e >>= 1;
    }
    r
}

impl Values {
    /// A table whose id 0 is `initial` (`null` for registers, `""` for kv).
    pub(crate) fn new(initial: &str) -> Self {
        let mut v = Values {
            nodes: Vec::new(),
            texts: Vec::new(),
            index: FxHashMap::default(),
            scratch: (Vec::new(), Vec::new()),
            lists: Lists::default(),
        };
        v.intern(initial);
        v
    }

    /// The id of `text`, adding it if new.
    pub(crate) fn intern(&mut self, text: &str) -> u32 {
        let hash = text
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(BASE).wrapping_add(b as u64 + 1));
        let pow = base_pow(text.len() as u64);
        let len = text.len() as u32;
        let first = self.index.get(&(hash, len)).copied().unwrap_or(NO_ID);
        let mut c = first;
        while c != NO_ID {
            let node = self.nodes[c as usize];
            let equal = if node.parent == FLAT {
                self.texts[node.piece as usize] == text
            } else {
                let mut buf = std::mem::take(&mut self.scratch.0);
                buf.clear();
                self.write(c, &mut buf);
                let equal = buf == text.as_bytes();
                self.scratch.0 = buf;
                equal
            };
            if equal {
                return c;
            }
            c = node.same;
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            hash,
            pow,
            len,
            parent: FLAT,
            piece: self.texts.len() as u32,
            same: first,
        });
        self.texts.push(text.to_string());
        self.index.insert((hash, len), id);
        id
    }

    /// The id of the concatenation of the texts of `a` and `b`.
    pub(crate) fn concat(&mut self, a: u32, b: u32) -> u32 {
        let (na, nb) = (self.nodes[a as usize], self.nodes[b as usize]);
        if nb.len == 0 {
            return a;
        }
        if na.len == 0 {
            return b;
        }
        let hash = na.hash.wrapping_mul(nb.pow).wrapping_add(nb.hash);
        let pow = na.pow.wrapping_mul(nb.pow);
        let len = na.len + nb.len;
        let first = self.index.get(&(hash, len)).copied().unwrap_or(NO_ID);
        let mut c = first;
        if c != NO_ID {
            let (mut want, mut have) = std::mem::take(&mut self.scratch);
            want.clear();
            self.write(a, &mut want);
            self.write(b, &mut want);
            while c != NO_ID {
                have.clear();
                self.write(c, &mut have);
                if have == want {
                    break;
                }
                c = self.nodes[c as usize].same;
            }
            self.scratch = (want, have);
            if c != NO_ID {
                return c;
            }
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            hash,
            pow,
            len,
            parent: a,
            piece: b,
            same: first,
        });
        self.index.insert((hash, len), id);
        id
    }

    /// Appends the text of `id` to `out`.
    fn write(&self, id: u32, out: &mut Vec<u8>) {
        // Walk down the prefixes to the flat base, then write the base and
        // the suffixes back up (no recursion: chains can be long).
        let mut suffixes = Vec::new();
        let mut x = id;
        while self.nodes[x as usize].parent != FLAT {
            suffixes.push(self.nodes[x as usize].piece);
            x = self.nodes[x as usize].parent;
        }
        out.extend_from_slice(self.texts[self.nodes[x as usize].piece as usize].as_bytes());
        for &s in suffixes.iter().rev() {
            self.write(s, out);
        }
    }

    /// The (hash, length) an id is indexed by.
    #[cfg(test)]
    pub(crate) fn hash_of(&self, id: u32) -> (u64, u32) {
        let n = self.nodes[id as usize];
        (n.hash, n.len)
    }

    /// The length in bytes of the text of an id.
    pub(crate) fn len(&self, id: u32) -> usize {
        self.nodes[id as usize].len as usize
    }

    /// The text of an id.
    pub(crate) fn text(&self, id: u32) -> std::borrow::Cow<'_, str> {
        let n = self.nodes[id as usize];
        if n.parent == FLAT {
            return std::borrow::Cow::Borrowed(&self.texts[n.piece as usize]);
        }
        let mut out = Vec::with_capacity(n.len as usize);
        self.write(id, &mut out);
        // Concatenations of whole UTF-8 strings are UTF-8.
        std::borrow::Cow::Owned(String::from_utf8(out).unwrap_or_default())
    }
}

/// A sequential specification over interned states.
pub(crate) trait Machine {
    /// The initial state.
    fn init(&mut self) -> u32;
    /// The state after `op` in `state`, or `None` if `op` is illegal there.
    fn step(&mut self, state: u32, op: &COp) -> Option<u32>;
    /// A state for humans.
    fn describe(&self, state: u32) -> String;
    /// The interned values.
    fn values(&self) -> &Values;
}

/// One key: the state is the value's id. Appends build new strings, interned
/// on first sight and memoised per (state, suffix).
#[derive(Clone, Debug)]
pub(crate) struct Single {
    pub values: Values,
    appends: FxHashMap<(u32, u32), u32>,
}

impl Single {
    pub(crate) fn new(values: Values) -> Self {
        Single {
            values,
            appends: FxHashMap::default(),
        }
    }

    #[inline]
    fn append(&mut self, state: u32, suffix: u32) -> u32 {
        if let Some(&s) = self.appends.get(&(state, suffix)) {
            return s;
        }
        let s = self.values.concat(state, suffix);
        self.appends.insert((state, suffix), s);
        s
    }

    /// One step on a single value.
    #[inline]
    pub(crate) fn apply(&mut self, state: u32, op: &COp) -> Option<u32> {
        match op.kind {
            Kind::Read => (state == op.a).then_some(state),
            Kind::Write => Some(op.a),
            Kind::Cas => (state == op.a).then_some(op.b),
            Kind::CasFailed => (state != op.a).then_some(state),
            Kind::CasMaybe => Some(if state == op.a { op.b } else { state }),
            Kind::Append => Some(self.append(state, op.a)),
            // Compiled only for the models of `super::structures`.
            _ => None,
        }
    }
}

impl Machine for Single {
    fn init(&mut self) -> u32 {
        0
    }
    #[inline]
    fn step(&mut self, state: u32, op: &COp) -> Option<u32> {
        self.apply(state, op)
    }
    fn describe(&self, state: u32) -> String {
        self.values.text(state).into_owned()
    }
    fn values(&self) -> &Values {
        &self.values
    }
}

/// Several keys in one state (a history checked without splitting by key):
/// the state is the id of a tuple of per-key value ids. Tuples are stored
/// flat, found by a Zobrist hash (the XOR of one random word per (key,
/// value) pair, updated in O(1) when one key changes) and verified by
/// comparing the tuples, so equal ids if and only if equal tuples.
/// Read-only ops are decided on the one component they look at, without
/// any lookup; transitions of the others are memoised per (state, op).
#[derive(Clone, Debug)]
pub(crate) struct Multi {
    pub single: Single,
    keys: Vec<String>,
    /// Tuple `i` is `tuples[i * width .. (i + 1) * width]`.
    tuples: Vec<u32>,
    width: usize,
    /// Zobrist hash of each tuple.
    hashes: Vec<u64>,
    /// Tuple hash -> the last id with it; `same` chains the others.
    tuple_ids: FxHashMap<u64, u32>,
    same: Vec<u32>,
    memo: FxHashMap<(u32, COp), Option<u32>>,
    scratch: Vec<u32>,
}

#[inline]
fn zobrist(key: usize, value: u32) -> u64 {
    super::fxhash::splitmix64(((key as u64) << 32 | value as u64) ^ 0x5851_F42D_4C95_7F2D)
}

impl Multi {
    pub(crate) fn new(values: Values, keys: Vec<String>) -> Self {
        let width = keys.len().max(1);
        let h0 = (0..width).fold(0, |h, k| h ^ zobrist(k, 0));
        let mut tuple_ids = FxHashMap::default();
        tuple_ids.insert(h0, 0);
        Multi {
            single: Single::new(values),
            keys,
            tuples: vec![0; width],
            width,
            hashes: vec![h0],
            tuple_ids,
            same: vec![NO_ID],
            memo: FxHashMap::default(),
            scratch: Vec::new(),
        }
    }

    #[inline]
    fn tuple(&self, id: u32) -> &[u32] {
        let w = self.width;
        &self.tuples[id as usize * w..(id as usize + 1) * w]
    }

    /// The id of `state` with key `k` set to `v`.
    fn with(&mut self, state: u32, k: usize, v: u32) -> u32 {
        let cur = self.tuple(state)[k];
        let h = self.hashes[state as usize] ^ zobrist(k, cur) ^ zobrist(k, v);
        let mut t = std::mem::take(&mut self.scratch);
        t.clear();
        t.extend_from_slice(self.tuple(state));
        t[k] = v;
        let first = self.tuple_ids.get(&h).copied().unwrap_or(NO_ID);
        let mut c = first;
        while c != NO_ID {
            if self.tuple(c) == t.as_slice() {
                break;
            }
            c = self.same[c as usize];
        }
        if c == NO_ID {
            c = self.hashes.len() as u32;
            self.tuples.extend_from_slice(&t);
            self.hashes.push(h);
            self.same.push(first);
            self.tuple_ids.insert(h, c);
        }
        self.scratch = t;
        c
    }
}

impl Machine for Multi {
    fn init(&mut self) -> u32 {
        0
    }
    #[inline]
    fn step(&mut self, state: u32, op: &COp) -> Option<u32> {
        let k = op.key as usize;
        let cur = self.tuples[state as usize * self.width + k];
        match op.kind {
            Kind::Read => return (cur == op.a).then_some(state),
            Kind::CasFailed => return (cur != op.a).then_some(state),
            _ => {}
        }
        if let Some(&r) = self.memo.get(&(state, *op)) {
            return r;
        }
        let r = self.single.apply(cur, op).map(|v| {
            if v == cur {
                state
            } else {
                self.with(state, k, v)
            }
        });
        self.memo.insert((state, *op), r);
        r
    }
    fn describe(&self, state: u32) -> String {
        let parts: Vec<String> = self
            .tuple(state)
            .iter()
            .zip(&self.keys)
            .filter(|(v, _)| **v != 0)
            .map(|(v, k)| format!("{k}={}", self.single.values.text(*v)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
    fn values(&self) -> &Values {
        &self.single.values
    }
}
