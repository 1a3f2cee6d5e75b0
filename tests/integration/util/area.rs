//! One area at a time. Each module of this binary was a test binary of its
//! own, and cargo runs test binaries one after another: an area's tests
//! ran side by side with each other only. Their timing bounds (an SSH
//! timeout, a browser step, a run under faults on two cores) and their
//! checks of what the machine holds afterwards (no namespace of a slot, no
//! process of a run, `faultline heal` cleaning every dead run's slot) were
//! written for that company. Every test therefore opens with
//!
//! ```ignore
//! let _area = crate::util::area::enter(module_path!());
//! ```
//!
//! which waits until no test of another area runs: tests of one area still
//! run side by side (as many as the harness's threads), tests of two areas
//! never do.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Which area is in, and how many of its tests.
struct Turn {
    area: Option<&'static str>,
    inside: usize,
}

static TURN: Mutex<Turn> = Mutex::new(Turn {
    area: None,
    inside: 0,
});
static CHANGED: Condvar = Condvar::new();

/// A test's place in its area, held until the test ends.
#[must_use = "the area is left when this is dropped"]
pub struct Area(());

fn turn() -> MutexGuard<'static, Turn> {
    // A test that panics never does so while holding the lock itself.
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until `area` (a module path) may run, and enters it.
pub fn enter(area: &'static str) -> Area {
    let mut t = turn();
    while t.area.is_some_and(|a| a != area) {
        t = CHANGED.wait(t).unwrap_or_else(|e| e.into_inner());
    }
    t.area = Some(area);
    t.inside += 1;
    Area(())
}

impl Drop for Area {
    fn drop(&mut self) {
        let mut t = turn();
        t.inside -= 1;
        if t.inside == 0 {
            t.area = None;
            CHANGED.notify_all();
        }
    }
}
