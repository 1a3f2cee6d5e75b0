//! The integration tests of the `checkers` crate, as one test binary.
//!
//! Every file under `tests/` is a binary of its own that cargo links
//! against the crate separately; this crate's tests are instead modules of
//! one binary (ripgrep's layout), linked once, sharing what several of them
//! need in [`util`]. Each module is one area, tested through the crate's
//! public API only, on histories whose verdicts are known: peers' published
//! corpora (vendored in `tests/data`), histories built by hand, and seeded
//! random ones. Run one area with a filter on its module name, e.g.
//! `cargo test -p checkers --test integration linear_exhaustive`.

mod knossos_corpus;
mod knossos_models;
mod linear_counterexamples;
mod linear_exhaustive;
mod no_panic;
mod porcupine_corpus;
mod set_full_reads;
mod stream;
mod util;
