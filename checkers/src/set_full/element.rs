//! The record kept of one element of a set-full history.
//!
//! Set-full follows every element through every read, but keeps no read
//! and no op: per (key, element) it holds one fixed-size [`Elem`] (about 80
//! bytes) of the few reads that matter, as ids into the checker's read list
//! ([`NONE`] when there is none): the first and last reads that returned
//! it, the first and last that missed it, and the read that began its
//! current run of stable visibility. [`present`] and [`absent`] fold one
//! read into that record, [`Elem::known`] and [`Elem::lost`] answer the
//! definitions' questions from it, and [`report`] turns it into the
//! [`ElementReport`] the analysis lists.

use super::{ElementReport, ReadRef};
use crate::history::Process;

/// An acknowledged add: where, when and to whom.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ack {
    pub(super) pos: u64,
    pub(super) time: u64,
    pub(super) index: u64,
    pub(super) process: u64,
}

/// No read (an absent read id).
pub(super) const NONE: u32 = u32::MAX;

/// What is known about one (key, element); reads are ids into
/// `SetFull::reads`, [`NONE`] when absent. About 80 bytes.
#[derive(Clone, Debug)]
pub(super) struct Elem {
    pub(super) element: i64,
    /// Its key (an id into `SetFull::keys`).
    pub(super) key: u32,
    pub(super) attempted: bool,
    pub(super) indeterminate: bool,
    pub(super) ack: Option<Ack>,
    pub(super) first_present: u32,
    pub(super) last_present: u32,
    pub(super) first_absent: u32,
    pub(super) last_absent: u32,
    /// The read that began the current run of stable visibility.
    pub(super) stable_from: u32,
    pub(super) absent_after: u32,
}

impl Elem {
    /// An element nothing is known of yet.
    pub(super) fn new(key: u32, element: i64) -> Self {
        Elem {
            element,
            key,
            attempted: false,
            indeterminate: false,
            ack: None,
            first_present: NONE,
            last_present: NONE,
            first_absent: NONE,
            last_absent: NONE,
            stable_from: NONE,
            absent_after: 0,
        }
    }
}

/// Looks up a read id.
pub(super) fn read_at(reads: &[ReadRef], id: u32) -> Option<ReadRef> {
    if id == NONE {
        None
    } else {
        reads.get(id as usize).copied()
    }
}

impl Elem {
    /// The position from which every read must return it.
    pub(super) fn known(&self, reads: &[ReadRef]) -> Option<u64> {
        match (
            self.ack.map(|a| a.pos),
            read_at(reads, self.first_present).map(|r| r.complete),
        ) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// Whether a relevant read missed it after the last read that returned
    /// it had completed.
    pub(super) fn lost(&self, reads: &[ReadRef]) -> bool {
        match (
            read_at(reads, self.last_absent),
            read_at(reads, self.last_present),
        ) {
            (Some(a), Some(p)) => a.invoke > p.complete,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// Read `rid` returned `e`.
pub(super) fn present(e: &mut Elem, rid: u32, reads: &[ReadRef]) {
    let r = reads[rid as usize];
    if e.first_present == NONE {
        e.first_present = rid;
    }
    if read_at(reads, e.last_present).is_none_or(|p| r.invoke > p.invoke) {
        e.last_present = rid;
        e.absent_after = 0;
    }
    if e.stable_from == NONE {
        e.stable_from = rid;
    }
}

/// Read `rid` missed `e`.
pub(super) fn absent(e: &mut Elem, rid: u32, reads: &[ReadRef]) {
    let r = reads[rid as usize];
    if e.first_absent == NONE {
        e.first_absent = rid;
    }
    if read_at(reads, e.last_absent).is_none_or(|a| r.invoke > a.invoke) {
        e.last_absent = rid;
    }
    let last_present = read_at(reads, e.last_present);
    if last_present.is_none_or(|p| r.invoke > p.complete) {
        e.absent_after = e.absent_after.saturating_add(1);
    }
    if let Some(s) = read_at(reads, e.stable_from) {
        if r.invoke > s.complete {
            // This miss began after the run's first read finished: the run
            // is broken. The last present read may still stand.
            e.stable_from = match last_present {
                Some(p) if p.complete > r.invoke => e.last_present,
                _ => NONE,
            };
        }
    }
}

/// What is reported of `e`, of key `key`.
pub(super) fn report(key: &str, e: &Elem, reads: &[ReadRef]) -> ElementReport {
    ElementReport {
        key: key.to_string(),
        element: e.element,
        ack_process: e.ack.map(|a| Process::Client(a.process)),
        ack_index: e.ack.map(|a| a.index),
        ack_time: e.ack.map(|a| a.time),
        first_present: read_at(reads, e.first_present),
        last_present: read_at(reads, e.last_present),
        first_absent: read_at(reads, e.first_absent),
        last_absent: read_at(reads, e.last_absent),
        absent_after_last_present: e.absent_after,
    }
}
