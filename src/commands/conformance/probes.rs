//! The probes: each workload's ops driven once through a fresh store, each
//! reply checked against the protocol and against what the store must have
//! done.
//!
//! A probe is a short script of requests whose right answers are known
//! because the store starts empty and one client drives it alone: a
//! register never written reads `null`; a compare-and-set whose expected
//! value is not the register's must be refused (`fail`, `mismatch`); an
//! insert after an element no list holds did nothing; a siblings write
//! carrying the context of a read supersedes what that read saw. An adapter
//! that answers `ok` to any of those hides a refusal from the checkers, the
//! worst thing an adapter can do. Replies that break the protocol (a wrong
//! `id`, no `type`, a value of the wrong shape) fail the step with the
//! offending line, as a run would stop on them.
//!
//! What a store may take time to show (a write seen by a later read on
//! another path, a replica catching up) is read again for a few seconds
//! before the step fails; the step says how long it took.

use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;
use workloads::adapter::{AdapterClient, Reply, Shape};

/// How long a write may take to show in a read of the same client before
/// the step fails: eventually consistent stores get this long.
pub const VISIBLE_WITHIN: Duration = Duration::from_secs(5);

/// How one step came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reply kept to the protocol and to what the store must have done.
    Pass,
    /// It did not; the detail says how, quoting the reply.
    Fail,
    /// The adapter does not offer it (a `cas` it refuses as unsupported).
    Skip,
}

/// One step of a probe, as the table prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The workload (or `honesty`).
    pub workload: String,
    /// What was asked, in words.
    pub what: String,
    /// How it came out.
    pub outcome: Outcome,
    /// Why, with the reply line when it failed.
    pub detail: String,
}

/// Drives one client through a workload's script and records its steps.
pub struct Prober<'a> {
    client: &'a AdapterClient,
    workload: String,
    timeout: Duration,
    /// The steps so far.
    pub steps: Vec<Step>,
}

/// A reply line for a message.
fn line(r: &Reply) -> String {
    format!("line {}: {}", r.line, workloads::adapter::quote(&r.raw))
}

impl<'a> Prober<'a> {
    /// A prober of `workload` through `client`, each request bounded by
    /// `timeout`.
    pub fn new(client: &'a AdapterClient, workload: &str, timeout: Duration) -> Self {
        Prober {
            client,
            workload: workload.to_string(),
            timeout,
            steps: Vec::new(),
        }
    }

    fn record(&mut self, what: &str, outcome: Outcome, detail: impl Into<String>) {
        self.steps.push(Step {
            workload: self.workload.clone(),
            what: what.to_string(),
            outcome,
            detail: detail.into(),
        });
    }

    /// Sends one request; a reply that broke the protocol, or none in
    /// time, fails the step `what` and is `None`.
    async fn ask(
        &mut self,
        what: &str,
        f: &str,
        key: &str,
        value: Value,
        extra: &[(&str, &Value)],
    ) -> Option<Reply> {
        let deadline = Instant::now() + self.timeout;
        match self
            .client
            .request_with(f, key, &value, extra, deadline)
            .await
        {
            Ok(r) => Some(r),
            Err(e) => {
                self.record(what, Outcome::Fail, e.to_string());
                None
            }
        }
    }

    /// A write-like request that must be `ok`.
    async fn must_ok(
        &mut self,
        what: &str,
        f: &str,
        key: &str,
        value: Value,
        extra: &[(&str, &Value)],
    ) -> Option<Reply> {
        let r = self.ask(what, f, key, value, extra).await?;
        if r.kind == checkers::OpType::Ok {
            self.record(what, Outcome::Pass, "");
            Some(r)
        } else {
            self.record(
                what,
                Outcome::Fail,
                format!("a lone client on a healthy store got no ok ({})", line(&r)),
            );
            None
        }
    }

    /// A request the store must refuse: `fail`, never `ok` (which would
    /// hide the refusal from the checkers) nor `info` (it certainly did
    /// nothing).
    async fn must_refuse(
        &mut self,
        what: &str,
        f: &str,
        key: &str,
        value: Value,
        extra: &[(&str, &Value)],
        why: &str,
    ) {
        let Some(r) = self.ask(what, f, key, value, extra).await else {
            return;
        };
        match r.kind {
            checkers::OpType::Fail => self.record(what, Outcome::Pass, r.error.unwrap_or_default()),
            checkers::OpType::Ok => self.record(
                what,
                Outcome::Fail,
                format!("replied ok, but {why}: an ok the store did not give hides a refusal from the checkers ({})", line(&r)),
            ),
            _ => self.record(
                what,
                Outcome::Fail,
                format!("replied info, but {why}, so it certainly did nothing: say fail ({})", line(&r)),
            ),
        }
    }

    /// Reads `key` (`f` = `read`) until `want` holds of the reply, for at
    /// most [`VISIBLE_WITHIN`]; the step passes when it does.
    async fn read_until(
        &mut self,
        what: &str,
        f: &str,
        key: &str,
        want: impl Fn(&Reply) -> Result<(), String>,
    ) -> Option<Reply> {
        let start = Instant::now();
        loop {
            let r = self.ask(what, f, key, Value::Null, &[]).await?;
            let verdict = if r.kind == checkers::OpType::Ok {
                want(&r)
            } else {
                Err("the read was not ok".to_string())
            };
            match verdict {
                Ok(()) => {
                    let took = start.elapsed();
                    let detail = if took > Duration::from_millis(150) {
                        format!("after {} ms", took.as_millis())
                    } else {
                        String::new()
                    };
                    self.record(what, Outcome::Pass, detail);
                    return Some(r);
                }
                Err(why) if start.elapsed() >= VISIBLE_WITHIN => {
                    self.record(
                        what,
                        Outcome::Fail,
                        format!(
                            "{why}, still after {} s ({})",
                            VISIBLE_WITHIN.as_secs(),
                            line(&r)
                        ),
                    );
                    return None;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Runs the script of `shape` on a store that holds nothing yet.
    pub async fn script(&mut self, shape: Shape) {
        match shape {
            Shape::Set { .. } => self.set().await,
            Shape::Register => self.register().await,
            Shape::Counter => self.counter().await,
            Shape::Siblings { .. } => self.siblings().await,
            Shape::OrSet => self.or_set().await,
            Shape::Sequence => self.sequence().await,
            Shape::Session => self.session().await,
        }
    }

    async fn set(&mut self) {
        self.read_until("read of set-1 before any add: []", "read", "set-1", |r| {
            ints(&r.value).map(|_| ())
        })
        .await;
        if self
            .must_ok("add 17 to set-0", "add", "set-0", json!(17), &[])
            .await
            .is_none()
        {
            return;
        }
        self.read_until(
            "read of set-0 after the add holds 17",
            "read",
            "set-0",
            |r| {
                let items = ints(&r.value)?;
                has(items.contains(&17), "17 is missing")
            },
        )
        .await;
    }

    async fn register(&mut self) {
        self.read_until("read of r0, never written: null", "read", "r0", |r| {
            has(r.value.is_null(), &format!("it reads {}", r.value))
        })
        .await;
        if self
            .must_ok("write 1 to r0", "write", "r0", json!(1), &[])
            .await
            .is_none()
        {
            return;
        }
        self.read_until("read of r0 after the write: 1", "read", "r0", |r| {
            has(r.value == json!(1), &format!("it reads {}", r.value))
        })
        .await;
        // A cas the adapter does not offer is a definite failure with an
        // error other than a mismatch: every cas is then skipped.
        let what = "cas r0 from 2 to 3 while it holds 1: refused";
        let Some(r) = self.ask(what, "cas", "r0", json!([2, 3]), &[]).await else {
            return;
        };
        let mismatch = r.error.as_deref().is_none_or(|e| e == "mismatch");
        match r.kind {
            checkers::OpType::Fail if mismatch => self.record(what, Outcome::Pass, ""),
            checkers::OpType::Fail => {
                let e = r.error.clone().unwrap_or_default();
                self.record(
                    what,
                    Outcome::Skip,
                    format!("every cas fails with {e:?}: the linearizability checker then judges reads and writes alone"),
                );
                return;
            }
            checkers::OpType::Ok => {
                self.record(what, Outcome::Fail, format!("replied ok, but the register held 1, not 2: an ok the store did not give hides a refusal from the checkers ({})", line(&r)));
                return;
            }
            _ => {
                self.record(what, Outcome::Fail, format!("replied info to a compare that found another value: say fail with error \"mismatch\", the evidence the checker needs ({})", line(&r)));
                return;
            }
        }
        if self
            .must_ok("cas r0 from 1 to 2", "cas", "r0", json!([1, 2]), &[])
            .await
            .is_some()
        {
            self.read_until("read of r0 after the cas: 2", "read", "r0", |r| {
                has(r.value == json!(2), &format!("it reads {}", r.value))
            })
            .await;
        }
    }

    async fn counter(&mut self) {
        let Some(before) = self
            .read_until(
                "read of the counter before any add: 0",
                "read",
                "counter",
                |r| {
                    has(
                        r.value.is_null() || r.value == json!(0),
                        &format!("it reads {}", r.value),
                    )
                },
            )
            .await
        else {
            return;
        };
        let _ = before;
        if self
            .must_ok("add 3", "add", "counter", json!(3), &[])
            .await
            .is_none()
        {
            return;
        }
        if self
            .must_ok("add -1", "add", "counter", json!(-1), &[])
            .await
            .is_none()
        {
            return;
        }
        self.read_until("read after adding 3 and -1: 2", "read", "counter", |r| {
            has(r.value == json!(2), &format!("it reads {}", r.value))
        })
        .await;
    }

    async fn siblings(&mut self) {
        self.read_until(
            "read of s0, never written: no siblings",
            "read",
            "s0",
            |r| {
                let v = list(&r.value)?;
                has(v.is_empty(), &format!("it reads {}", r.value))
            },
        )
        .await;
        let null = Value::Null;
        if self
            .must_ok(
                "blind write of 1 to s0",
                "write",
                "s0",
                json!(1),
                &[("context", &null)],
            )
            .await
            .is_none()
        {
            return;
        }
        let Some(seen) = self
            .read_until(
                "read of s0 after it: [1] and a context",
                "read",
                "s0",
                |r| {
                    let v = list(&r.value)?;
                    has(v == [json!(1)], &format!("its siblings are {}", r.value))
                },
            )
            .await
        else {
            return;
        };
        // A store without siblings (last write wins) has no context to
        // give: the write below then goes without one, and must still
        // leave one value.
        let context = match seen.context.clone() {
            Some(c) => {
                self.record("the read's context", Outcome::Pass, "");
                c
            }
            None => {
                self.record(
                    "the read's context",
                    Outcome::Skip,
                    "the read gave no \"context\" (a store without siblings needs none; one that keeps siblings does)",
                );
                Value::Null
            }
        };
        if self
            .must_ok(
                "write of 2 with that context",
                "write",
                "s0",
                json!(2),
                &[("context", &context)],
            )
            .await
            .is_none()
        {
            return;
        }
        self.read_until(
            "read of s0: [2] alone (the write superseded 1)",
            "read",
            "s0",
            |r| {
                let v = list(&r.value)?;
                has(
                    v == [json!(2)],
                    &format!("its siblings are {}: the context was not honoured", r.value),
                )
            },
        )
        .await;
    }

    async fn or_set(&mut self) {
        if self
            .must_ok("add 1 to the or-set", "add", "orset", json!(1), &[])
            .await
            .is_none()
        {
            return;
        }
        self.read_until("read holds 1", "read", "orset", |r| {
            has(list(&r.value)?.contains(&json!(1)), "1 is missing")
        })
        .await;
        if self
            .must_ok("remove 1", "remove", "orset", json!(1), &[])
            .await
            .is_none()
        {
            return;
        }
        self.read_until("read no longer holds 1", "read", "orset", |r| {
            has(!list(&r.value)?.contains(&json!(1)), "1 is still there")
        })
        .await;
    }

    async fn sequence(&mut self) {
        let null = Value::Null;
        if self
            .must_ok(
                "insert 100 into l0 at the end",
                "insert",
                "l0",
                json!(100),
                &[("after", &null)],
            )
            .await
            .is_none()
        {
            return;
        }
        let hundred = json!(100);
        if self
            .must_ok(
                "insert 101 right after 100",
                "insert",
                "l0",
                json!(101),
                &[("after", &hundred)],
            )
            .await
            .is_none()
        {
            return;
        }
        self.read_until("read of l0: 100 then 101", "read", "l0", |r| {
            let v = list(&r.value)?;
            let at = v.iter().position(|e| *e == json!(100));
            has(
                at.is_some_and(|i| v.get(i + 1) == Some(&json!(101))),
                &format!("it reads {}", r.value),
            )
        })
        .await;
        let missing = json!(999_999);
        self.must_refuse(
            "insert after 999999, which no list holds: refused",
            "insert",
            "l0",
            json!(102),
            &[("after", &missing)],
            "no element 999999 exists to insert after",
        )
        .await;
        if self
            .must_ok("delete 100", "delete", "l0", json!(100), &[])
            .await
            .is_some()
        {
            self.read_until("read of l0: 101 without 100", "read", "l0", |r| {
                let v = list(&r.value)?;
                has(
                    !v.contains(&json!(100)) && v.contains(&json!(101)),
                    &format!("it reads {}", r.value),
                )
            })
            .await;
        }
    }

    async fn session(&mut self) {
        let Some(w1) = self
            .must_ok("write 1 to s0", "write", "s0", json!(1), &[])
            .await
        else {
            return;
        };
        let Some(v1) = w1.version else {
            self.record(
                "the write's version",
                Outcome::Fail,
                format!(
                    "an ok session write must carry the integer \"version\" the store gave it ({})",
                    line(&w1)
                ),
            );
            return;
        };
        self.record("the write's version", Outcome::Pass, format!("{v1}"));
        self.read_until(
            "read of s0: 1 at that version or later",
            "read",
            "s0",
            |r| {
                has(
                    r.value == json!(1) && r.version.is_some_and(|v| v >= v1),
                    &format!("it reads {} at version {:?}", r.value, r.version),
                )
            },
        )
        .await;
        let Some(w2) = self
            .must_ok("write 2 to s0", "write", "s0", json!(2), &[])
            .await
        else {
            return;
        };
        match w2.version {
            Some(v2) if v2 > v1 => self.record("a later write's version is greater", Outcome::Pass, format!("{v1} < {v2}")),
            other => self.record(
                "a later write's version is greater",
                Outcome::Fail,
                format!("the second write's version {other:?} is not above the first's {v1}: the session checker orders values by it ({})", line(&w2)),
            ),
        }
    }

    /// `read-local` of `key` on this client's node: `ok`, and (for a set)
    /// a list of integers, or `null`.
    pub async fn read_local(&mut self, key: &str, set: bool) {
        let what = format!("read-local of {key}");
        self.read_until(&what, "read-local", key, |r| {
            if set && !r.value.is_null() {
                ints(&r.value)?;
            }
            Ok(())
        })
        .await;
    }

    /// `preflist` of `key`: a non-empty list of the cluster's node names.
    pub async fn preflist(&mut self, key: &str, nodes: &[String]) {
        let what = format!("preflist of {key}");
        let Some(r) = self.ask(&what, "preflist", key, Value::Null, &[]).await else {
            return;
        };
        let names: Option<Vec<&str>> = r
            .value
            .as_array()
            .and_then(|a| a.iter().map(Value::as_str).collect());
        match names {
            Some(n) if !n.is_empty() && n.iter().all(|x| nodes.iter().any(|m| m == x)) => {
                self.record(&what, Outcome::Pass, n.join(", "))
            }
            _ => self.record(
                &what,
                Outcome::Fail,
                format!(
                    "not a list of the nodes' names ({}) ({})",
                    nodes.join(", "),
                    line(&r)
                ),
            ),
        }
    }

    /// A write through a node whose store was killed: `fail` or `info`,
    /// never `ok`.
    pub async fn while_down(&mut self, shape: Shape) {
        let (f, key, value, extra): (&str, &str, Value, Vec<(&str, Value)>) = match shape {
            Shape::Set { .. } => ("add", "set-0", json!(18), vec![]),
            Shape::Register => ("write", "r9", json!(7), vec![]),
            Shape::Session => ("write", "s9", json!(7), vec![]),
            Shape::Counter => ("add", "counter", json!(1), vec![]),
            Shape::Siblings { .. } => ("write", "s9", json!(7), vec![("context", Value::Null)]),
            Shape::OrSet => ("add", "orset", json!(7), vec![]),
            Shape::Sequence => ("insert", "l9", json!(7), vec![("after", Value::Null)]),
        };
        let what = format!("{f} through a node whose store is killed: not ok");
        let extra: Vec<(&str, &Value)> = extra.iter().map(|(k, v)| (*k, v)).collect();
        let Some(r) = self.ask(&what, f, key, value, &extra).await else {
            return;
        };
        if r.kind == checkers::OpType::Ok {
            self.record(&what, Outcome::Fail, format!("replied ok while the node's store was killed: the adapter must not say ok for a write the store did not confirm ({})", line(&r)));
        } else {
            self.record(&what, Outcome::Pass, r.error.unwrap_or_default());
        }
    }
}

/// `Ok` when `cond` holds, else `why`.
fn has(cond: bool, why: &str) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(why.to_string())
    }
}

/// A reply's value as a list (`null` as an empty one).
fn list(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => Ok(a.clone()),
        other => Err(format!("the value {other} is not a list")),
    }
}

/// A reply's value as a list of integers.
fn ints(v: &Value) -> Result<Vec<i64>, String> {
    list(v)?
        .iter()
        .map(|e| {
            e.as_i64()
                .ok_or_else(|| format!("{e} in {v} is not an integer"))
        })
        .collect()
}
