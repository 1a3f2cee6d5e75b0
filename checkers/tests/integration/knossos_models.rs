//! Knossos's published mutex and multi-register histories get the verdicts
//! Knossos gives them.
//!
//! Vendored in `tests/data/knossos/{mutex,multi-register}` (origin, commit
//! and licence in `tests/data/knossos/ORIGIN.md`). Knossos's tests assert:
//!
//! - `multi-register/good/multi-register.edn`, with
//!   `(multi-register {:x 0 :y 0})`: valid (`linear_test.clj`,
//!   `multi-register-test`; also `core_test.clj`'s good/bad folder loop),
//!   its final states `{x 2, y 2}` and `{x 2, y 0}`;
//! - `mutex/bad/etcd.edn`, with `(mutex)`: in the `bad` folder, i.e. not
//!   linearizable (`report_test.clj` renders its failure report).

use checkers::linear::{self, Model};
use checkers::{parse, History, Validity};

use crate::util;

/// A Knossos history vendored under `tests/data/knossos`.
fn read(rel: &str) -> History {
    let text = util::read_data(&format!("knossos/{rel}"));
    parse::auto(&text).unwrap_or_else(|e| panic!("knossos/{rel}: {e}"))
}

#[test]
fn etcd_mutex_history_is_not_linearizable() {
    let r = linear::check(&read("mutex/bad/etcd.edn"), Model::Mutex);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
    println!("{}", r.summary);
}

#[test]
fn multi_register_history_is_linearizable() {
    let h = read("multi-register/good/multi-register.edn");
    let zeros = serde_json::json!({"x": 0, "y": 0});
    let r =
        linear::check_multi_register(&h, zeros.as_object().unwrap(), &linear::Options::default());
    assert_eq!(r.valid, Validity::Valid, "{}", r.summary);
    println!("{}", r.summary);
    // From null registers (Knossos's `(multi-register {})`) the file's
    // first reads of 0 come before any write of 0 can be placed.
    let r = linear::check(&h, Model::MultiRegister);
    assert_eq!(r.valid, Validity::Invalid, "{}", r.summary);
}
