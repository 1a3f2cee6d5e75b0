//! The fast path of [`crate::stream`]: one pass over a JSONL line in the
//! plain shape faultline writes, giving the op's fields in place and its
//! value as a *tape* of tokens that the checkers then read without scanning
//! the text again.
//!
//! The plain shape: an object whose known fields (`index`, `type`,
//! `process`, `f`, `value`, `time`, `node`, `error`) come in any order, each
//! at most once, beside fields it ignores; strings without escapes or
//! control characters; integers without fraction or exponent (at most 18
//! digits, no leading zero, not `-0`); values made of such integers,
//! `null`, booleans, strings and lists nested at most 32 deep. Anything else
//! (`None`) is left to the general parser, which accepts or rejects it as
//! `serde_json` does; a line this scanner reads gives the op that parser
//! would.
//!
//! Speed comes from doing little per byte: field names and the op type are
//! compared eight bytes at a time, strings are searched eight bytes at a
//! time for their closing quote (or an escape or control character, which
//! leave the plain shape), and whitespace is skipped only where there is
//! some.

use crate::history::{OpType, Process};

/// What a [`Tok`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Null = 0,
    True = 1,
    False = 2,
    Int = 3,
    Str = 4,
    Arr = 5,
}

/// The largest line (and so value) the scanner reads: offsets in a
/// [`Tok`] have 28 bits. Longer lines go to the general parser.
pub(crate) const MAX_LINE: usize = 1 << 28;

const END_MASK: u32 = (1 << 28) - 1;
const SPACED: u32 = 1 << 31;

/// One token of a value's tape: a scalar, or a list followed by its
/// elements' tokens. 16 bytes: a read of millions of integers has a tape
/// of millions of tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tok {
    /// Where the token's text starts in the value's text (quotes and
    /// brackets included).
    pub start: u32,
    /// The end of its text (low 28 bits), its [`Kind`] (3 bits) and, for a
    /// list, whether it has whitespace inside (the top bit: its text is
    /// then not canonical JSON).
    meta: u32,
    /// `Int`: the integer; `Arr`: the number of elements (low 32 bits) and
    /// the distance to the token after the list (high 32 bits).
    x: u64,
}

impl Tok {
    /// A token of `kind` over `start..end` (`end` below [`MAX_LINE`]).
    #[inline(always)]
    pub(crate) const fn new(kind: Kind, start: u32, end: u32, x: u64) -> Tok {
        Tok {
            start,
            meta: (end & END_MASK) | ((kind as u32) << 28),
            x,
        }
    }

    /// What it is.
    #[inline(always)]
    pub fn kind(&self) -> Kind {
        match (self.meta >> 28) & 7 {
            0 => Kind::Null,
            1 => Kind::True,
            2 => Kind::False,
            3 => Kind::Int,
            4 => Kind::Str,
            _ => Kind::Arr,
        }
    }

    /// Whether it is a list with whitespace inside.
    #[inline(always)]
    pub fn spaced(&self) -> bool {
        self.meta & SPACED != 0
    }

    /// The end of its text in the value's text.
    #[inline(always)]
    pub fn end(&self) -> u32 {
        self.meta & END_MASK
    }

    #[inline(always)]
    fn set_end(&mut self, end: u32) {
        self.meta = (self.meta & !END_MASK) | (end & END_MASK);
    }

    #[inline(always)]
    fn set_spaced(&mut self, spaced: bool) {
        if spaced {
            self.meta |= SPACED;
        } else {
            self.meta &= !SPACED;
        }
    }

    /// The integer of an `Int`.
    #[inline]
    pub fn int(&self) -> i64 {
        self.x as i64
    }

    /// The number of elements of an `Arr`.
    #[inline]
    pub fn len(&self) -> usize {
        (self.x & 0xffff_ffff) as usize
    }

    /// How many tokens this value takes (1 for a scalar).
    #[inline]
    pub fn width(&self) -> usize {
        if self.kind() == Kind::Arr {
            (self.x >> 32) as usize
        } else {
            1
        }
    }
}

/// The tape of an absent value: `null`.
pub(crate) const NULL_TAPE: &[Tok] = &[Tok::new(Kind::Null, 0, 4, 0)];

/// An op's fields, read in place.
pub(crate) struct Fields<'a> {
    pub index: Option<u64>,
    pub kind: OpType,
    pub process: Process,
    pub f: &'a str,
    /// The value's text (`null` when absent).
    pub value: &'a str,
    /// The value's tokens in the tape (`None` when absent).
    pub toks: Option<(usize, usize)>,
    pub time: u64,
    pub node: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Which known fields a line had (duplicates are an error for serde).
const F_INDEX: u8 = 1;
const F_TYPE: u8 = 2;
const F_PROCESS: u8 = 4;
const F_F: u8 = 8;
const F_VALUE: u8 = 16;
const F_TIME: u8 = 32;
const F_NODE: u8 = 64;
const F_ERROR: u8 = 128;

/// Lists nested deeper than this are left to the general parser.
const MAX_DEPTH: u32 = 32;

/// `s` as a little-endian word (at most 8 bytes).
const fn lit(s: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut k = 0;
    while k < s.len() {
        w |= (s[k] as u64) << (8 * k);
        k += 1;
    }
    w
}

/// The low `n` bytes of a word.
const fn mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes at `i` as a little-endian word, zero past the end.
#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    match b.get(i..i + 8) {
        Some(w) => u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
        None => tail_word(b, i),
    }
}

#[inline(never)]
fn tail_word(b: &[u8], i: usize) -> u64 {
    let mut w = 0u64;
    for (k, &c) in b.get(i..).unwrap_or(&[]).iter().take(8).enumerate() {
        w |= u64::from(c) << (8 * k);
    }
    w
}

/// Bit 7 of every byte of `w` that is below `n` (`n` <= 0x80), exact for
/// the lowest such byte (borrows only carry upwards).
#[inline(always)]
fn bytes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS
}

/// Bit 7 of every byte of `w` equal to `c`, exact for the lowest one.
#[inline(always)]
fn bytes_eq(w: u64, c: u8) -> u64 {
    bytes_below(w ^ (ONES * u64::from(c)), 1)
}

/// The position of the quote closing the string whose contents start at
/// `i`, if the string is plain (no escape, no control character); eight
/// bytes at a time (past the end, the zero padding stops it).
#[inline(always)]
fn plain_str_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let w = word(b, i);
        let hits = bytes_eq(w, b'"') | bytes_eq(w, b'\\') | bytes_below(w, 0x20);
        if hits != 0 {
            let j = i + (hits.trailing_zeros() / 8) as usize;
            return (b.get(j) == Some(&b'"')).then_some(j);
        }
        i += 8;
    }
}

/// The leading decimal digits of the 8 bytes at `j` (zero past the end):
/// how many, and their value.
#[inline(always)]
fn digits(b: &[u8], j: usize) -> (usize, u64) {
    let w = word(b, j);
    let sub = w.wrapping_sub(0x3030_3030_3030_3030);
    // A byte's bit 7 is set if it is not a digit (exact for the lowest).
    let other = (sub | sub.wrapping_add(0x7676_7676_7676_7676)) & HIGHS;
    let n = (other.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    (n, combine(sub, n))
}

/// The leading decimal digits of a word: how many (0 to 8), their value,
/// and the byte after them (0 after 8 digits).
#[inline(always)]
fn digit_word(w: u64) -> (usize, u64, u8) {
    let sub = w.wrapping_sub(0x3030_3030_3030_3030);
    // A byte's bit 7 is set if it is not a digit (exact for the lowest).
    let other = (sub | sub.wrapping_add(0x7676_7676_7676_7676)) & HIGHS;
    let n = (other.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0, w as u8);
    }
    let next = if n == 8 { 0 } else { (w >> (8 * n)) as u8 };
    (n, combine(sub, n), next)
}

/// The value of the first `n` (1 to 8) digits of a word whose bytes are
/// digit values (`'0'` subtracted).
#[inline(always)]
fn combine(sub: u64, n: usize) -> u64 {
    // The digits to the top (leading zeros below), then pairs, fours and
    // eights combined.
    let mut v = sub << (8 * (8 - n));
    v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00ff_00ff_00ff_00ff;
    v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000).wrapping_add(v >> 32)) & 0xffff_ffff
}

const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

struct Scan<'a, 't> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    tape: &'t mut Vec<Tok>,
    /// Where the value being scanned starts (token offsets are relative).
    base: usize,
    /// Bumped whenever whitespace is skipped.
    spaces: u32,
}

impl<'a> Scan<'a, '_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips whitespace, if the cursor is on some.
    #[inline(always)]
    fn ws(&mut self) {
        if let Some(&c) = self.b.get(self.i) {
            if c <= b' ' {
                self.ws_slow();
            }
        }
    }

    #[inline(never)]
    fn ws_slow(&mut self) {
        let start = self.i;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
        if self.i != start {
            self.spaces += 1;
        }
    }

    /// The word at the cursor starts with the `n` bytes of `w` (then
    /// skipped).
    #[inline(always)]
    fn lit(&mut self, at: u64, w: u64, n: usize) -> bool {
        let hit = at & mask(n) == w;
        if hit {
            self.i += n;
        }
        hit
    }

    /// A plain string at the cursor; its contents.
    #[inline(always)]
    fn plain_str(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let end = plain_str_end(self.b, start)?;
        self.i = end + 1;
        self.s.get(start..end)
    }

    /// A strict integer (`-?`, then `0` or up to 18 digits without a
    /// leading zero, not `-0`), not followed by a fraction or an exponent.
    /// Up to 7 digits in one word; longer ones in [`Scan::long_int`].
    #[inline(always)]
    fn int(&mut self) -> Option<i64> {
        let b = self.b;
        let w = word(b, self.i);
        let neg = w as u8 == b'-';
        let start = self.i + usize::from(neg);
        let w = if neg { word(b, start) } else { w };
        let (n, mut v, mut next) = digit_word(w);
        let mut len = n;
        if n == 8 {
            // Nanosecond times have 10 or more digits: a second word.
            let (n2, v2, next2) = digit_word(word(b, start + 8));
            if n2 == 8 {
                return self.long_int(neg, start);
            }
            len += n2;
            v = v * POW10[n2] + v2;
            next = next2;
        } else if n == 0 {
            return None;
        }
        // No leading zero, no "-0"; then not a fraction or an exponent.
        if w as u8 == b'0' && (len > 1 || neg) {
            return None;
        }
        if let b'.' | b'e' | b'E' | b'-' | b'+' = next {
            return None;
        }
        self.i = start + len;
        let v = v as i64;
        Some(if neg { -v } else { v })
    }

    /// [`Scan::int`] for 16 digits or more.
    #[inline(never)]
    fn long_int(&mut self, neg: bool, start: usize) -> Option<i64> {
        let b = self.b;
        let mut len = 0;
        let mut n = 0u64;
        loop {
            let (k, v) = digits(b, start + len);
            n = n.wrapping_mul(POW10[k]).wrapping_add(v);
            len += k;
            if k < 8 || len > 18 {
                break;
            }
        }
        let j = start + len;
        if len == 0 || len > 18 || (b[start] == b'0' && (len > 1 || neg)) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E' | b'-' | b'+') = b.get(j) {
            return None;
        }
        self.i = j;
        let n = n as i64;
        Some(if neg { -n } else { n })
    }

    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        u64::try_from(self.int()?).ok()
    }

    #[inline(always)]
    fn push(&mut self, kind: Kind, start: usize, x: u64) {
        self.tape.push(Tok::new(
            kind,
            (start - self.base) as u32,
            (self.i - self.base) as u32,
            x,
        ));
    }

    /// A value in the plain shape at the cursor (whitespace before it
    /// skipped), its tokens pushed. Lists are read without recursion: an
    /// open list's token keeps, until the list closes, the id of the list
    /// around it and that list's element count (in `x`) and the whitespace
    /// count when it opened (in `end`).
    #[inline(always)]
    fn value(&mut self) -> Option<()> {
        // The innermost open list (its token), its elements so far, depth.
        let mut open = usize::MAX;
        let mut count = 0u64;
        let mut depth = 0u32;
        'value: loop {
            let start = self.i;
            match self.peek()? {
                b'"' => {
                    let end = plain_str_end(self.b, start + 1)?;
                    self.i = end + 1;
                    self.push(Kind::Str, start, 0);
                }
                b'-' | b'0'..=b'9' => {
                    let n = self.int()?;
                    self.push(Kind::Int, start, n as u64);
                }
                b'[' => {
                    if depth >= MAX_DEPTH {
                        return None;
                    }
                    depth += 1;
                    let at = self.tape.len();
                    if at >= 0xffff_ffff {
                        return None;
                    }
                    self.tape.push(Tok::new(
                        Kind::Arr,
                        (start - self.base) as u32,
                        self.spaces,
                        (open as u64 & 0xffff_ffff) | (count << 32),
                    ));
                    open = at;
                    count = 0;
                    self.i += 1;
                    self.ws();
                    if self.peek()? != b']' {
                        continue 'value;
                    }
                    self.i += 1;
                    self.close(&mut open, &mut count)?;
                    depth -= 1;
                }
                b'n' => {
                    let w = word(self.b, start);
                    self.lit(w, lit(b"null"), 4).then_some(())?;
                    self.push(Kind::Null, start, 0);
                }
                b't' => {
                    let w = word(self.b, start);
                    self.lit(w, lit(b"true"), 4).then_some(())?;
                    self.push(Kind::True, start, 0);
                }
                b'f' => {
                    let w = word(self.b, start);
                    self.lit(w, lit(b"false"), 5).then_some(())?;
                    self.push(Kind::False, start, 0);
                }
                b' ' | b'\t' | b'\n' | b'\r' => {
                    self.ws_slow();
                    continue 'value;
                }
                _ => return None,
            }
            // A value is complete: the next element, or the end of lists.
            loop {
                if open == usize::MAX {
                    return Some(());
                }
                count += 1;
                let mut c = self.peek()?;
                if c <= b' ' {
                    self.ws();
                    c = self.peek()?;
                }
                self.i += 1;
                match c {
                    b',' => continue 'value,
                    b']' => {
                        self.close(&mut open, &mut count)?;
                        depth -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Closes the open list `open` (the cursor after its `]`): its token
    /// gets its length, width, end and whitespace flag, and the list around
    /// it is open again.
    #[inline(always)]
    fn close(&mut self, open: &mut usize, count: &mut u64) -> Option<()> {
        let width = (self.tape.len() - *open) as u64;
        if *count > 0xffff_ffff || width > 0xffff_ffff {
            return None;
        }
        let end = (self.i - self.base) as u32;
        let spaces = self.spaces;
        let t = &mut self.tape[*open];
        let outer = t.x & 0xffff_ffff;
        let outer_count = t.x >> 32;
        t.set_spaced(t.end() != spaces & END_MASK);
        t.set_end(end);
        t.x = (*count & 0xffff_ffff) | (width << 32);
        *open = if outer == 0xffff_ffff {
            usize::MAX
        } else {
            outer as usize
        };
        *count = outer_count;
        Some(())
    }

    /// `null` or a plain string.
    #[inline(always)]
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        let w = word(self.b, self.i);
        if self.lit(w, lit(b"null"), 4) {
            Some(None)
        } else {
            self.plain_str().map(Some)
        }
    }

    /// A field name with whitespace around it or before its colon, or one
    /// the op ignores.
    #[inline(never)]
    fn key_slow(&mut self) -> Option<u8> {
        self.ws();
        let bit = match self.plain_str()? {
            "type" => F_TYPE,
            "time" => F_TIME,
            "process" => F_PROCESS,
            "f" => F_F,
            "value" => F_VALUE,
            "index" => F_INDEX,
            "node" => F_NODE,
            "error" => F_ERROR,
            _ => 0,
        };
        self.ws();
        if self.peek()? != b':' {
            return None;
        }
        self.i += 1;
        Some(bit)
    }

    #[inline(always)]
    fn kind(&mut self) -> Option<OpType> {
        let w = word(self.b, self.i);
        if self.lit(w, lit(b"\"invoke\""), 8) {
            Some(OpType::Invoke)
        } else if self.lit(w, lit(b"\"ok\""), 4) {
            Some(OpType::Ok)
        } else if self.lit(w, lit(b"\"fail\""), 6) {
            Some(OpType::Fail)
        } else if self.lit(w, lit(b"\"info\""), 6) {
            Some(OpType::Info)
        } else {
            None
        }
    }

    #[inline(always)]
    fn process(&mut self) -> Option<Process> {
        if self.peek()? == b'"' {
            match self.plain_str()? {
                "nemesis" | ":nemesis" => Some(Process::Nemesis),
                _ => None,
            }
        } else {
            Some(Process::Client(self.u64()?))
        }
    }
}

/// Reads a JSONL line (without its `\n`) in the plain shape (see the
/// [module docs](self)); the value's tokens are appended to `tape`.
/// `None` for any other line, `tape` then holding some garbage at its end.
pub(crate) fn line<'a>(line: &'a str, tape: &mut Vec<Tok>) -> Option<Fields<'a>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    if line.len() >= MAX_LINE {
        return None;
    }
    let mut c = Scan {
        s: line,
        b: line.as_bytes(),
        i: 0,
        tape,
        base: 0,
        spaces: 0,
    };
    c.ws();
    if c.peek()? != b'{' {
        return None;
    }
    c.i += 1;
    let mut st = Found {
        seen: 0,
        kind: None,
        process: None,
        f: None,
        v: Fields {
            index: None,
            kind: OpType::Invoke,
            process: Process::Nemesis,
            f: "",
            value: "null",
            toks: None,
            time: 0,
            node: None,
            error: None,
        },
    };
    c.ws();
    if c.peek()? == b'}' {
        c.i += 1;
    } else {
        loop {
            // The field names faultline writes, in the order it writes
            // them, each compared as a word (a chain of branches that
            // predicts well line after line); anything else the slow way.
            let w = word(c.b, c.i);
            if w & mask(7) == lit(b"\"type\":") {
                c.i += 7;
                c.field(&mut st, F_TYPE)?;
            } else if w == lit(b"\"process") && word(c.b, c.i + 8) & mask(2) == lit(b"\":") {
                c.i += 10;
                c.field(&mut st, F_PROCESS)?;
            } else if w & mask(4) == lit(b"\"f\":") {
                c.i += 4;
                c.field(&mut st, F_F)?;
            } else if w == lit(b"\"value\":") {
                c.i += 8;
                c.field(&mut st, F_VALUE)?;
            } else if w & mask(7) == lit(b"\"time\":") {
                c.i += 7;
                c.field(&mut st, F_TIME)?;
            } else if w & mask(7) == lit(b"\"node\":") {
                c.i += 7;
                c.field(&mut st, F_NODE)?;
            } else if w == lit(b"\"index\":") {
                c.i += 8;
                c.field(&mut st, F_INDEX)?;
            } else if w == lit(b"\"error\":") {
                c.i += 8;
                c.field(&mut st, F_ERROR)?;
            } else {
                let bit = c.key_slow()?;
                c.field_slow(&mut st, bit)?;
            }
            let mut next = c.peek()?;
            if next <= b' ' {
                c.ws();
                next = c.peek()?;
            }
            c.i += 1;
            match next {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    c.ws();
    if c.i != line.len() {
        return None;
    }
    let mut v = st.v;
    v.kind = st.kind?;
    v.process = st.process?;
    v.f = st.f?;
    Some(v)
}

/// What [`line`] found so far.
struct Found<'a> {
    /// The known fields seen (each may appear once).
    seen: u8,
    kind: Option<OpType>,
    process: Option<Process>,
    f: Option<&'a str>,
    v: Fields<'a>,
}

impl<'a> Scan<'a, '_> {
    /// The value of field `bit` (0: a field the op ignores), the cursor
    /// after its colon.
    #[inline(always)]
    fn field(&mut self, st: &mut Found<'a>, bit: u8) -> Option<()> {
        if st.seen & bit != 0 {
            return None;
        }
        st.seen |= bit;
        self.ws();
        match bit {
            F_TYPE => st.kind = Some(self.kind()?),
            F_PROCESS => st.process = Some(self.process()?),
            F_F => st.f = Some(self.plain_str()?),
            F_VALUE => {
                let first = self.tape.len();
                let start = self.i;
                self.base = start;
                self.value()?;
                st.v.value = self.s.get(start..self.i)?;
                st.v.toks = Some((first, self.tape.len()));
            }
            F_TIME => st.v.time = self.u64()?,
            F_INDEX => st.v.index = Some(self.u64()?),
            F_NODE => st.v.node = self.opt_str()?,
            F_ERROR => st.v.error = self.opt_str()?,
            _ => {
                let mark = self.tape.len();
                self.base = self.i;
                self.value()?;
                self.tape.truncate(mark);
            }
        }
        Some(())
    }

    #[inline(never)]
    fn field_slow(&mut self, st: &mut Found<'a>, bit: u8) -> Option<()> {
        self.field(st, bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_find_the_first_special_byte() {
        let cases: &[(&str, Option<usize>)] = &[
            ("abc\"", Some(3)),
            ("abcdefghijkl\"x\"", Some(12)),
            ("abcdefg\"", Some(7)),
            ("abcdefgh\"", Some(8)),
            ("ab\\\"cdefgh\"", None),
            ("abcdefghij\tk\"", None),
            ("é€ab\"", Some("é€ab".len())),
            ("\u{7f}\u{7f}\"", Some(2)),
            ("", None),
            ("abcdefghijklmnop", None),
        ];
        for &(s, want) in cases {
            assert_eq!(plain_str_end(s.as_bytes(), 0), want, "{s:?}");
        }
    }

    #[test]
    fn tapes_describe_values() {
        let mut tape = Vec::new();
        let l = r#"{"type":"ok","process":1,"f":"read","value":["k", [1, [], -2]],"time":3}"#;
        let fl = line(l, &mut tape).unwrap();
        assert_eq!(fl.value, r#"["k", [1, [], -2]]"#);
        let (a, b) = fl.toks.unwrap();
        let t = &tape[a..b];
        assert_eq!(t.len(), 6);
        assert_eq!(
            (t[0].kind(), t[0].len(), t[0].width(), t[0].spaced()),
            (Kind::Arr, 2, 6, true)
        );
        assert_eq!((t[1].kind(), t[1].start, t[1].end()), (Kind::Str, 1, 4));
        assert_eq!((t[2].kind(), t[2].len(), t[2].width()), (Kind::Arr, 3, 4));
        assert_eq!((t[3].kind(), t[3].int()), (Kind::Int, 1));
        assert_eq!((t[4].kind(), t[4].len(), t[4].width()), (Kind::Arr, 0, 1));
        assert_eq!((t[5].kind(), t[5].int()), (Kind::Int, -2));
        assert_eq!(
            &fl.value[t[2].start as usize..t[2].end() as usize],
            "[1, [], -2]"
        );
    }
}
