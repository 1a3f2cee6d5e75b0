//! Workload ops as adapter requests, and replies as completions.
//!
//! A `set` add is one `add` request to the key the built-in client uses; a
//! read of the whole set is one `read` per key, merged. A `register` op is
//! one `read`, `write` or `cas` request. A reply's `type` becomes the
//! completion's: `ok` and `fail` are definite, `info` (and any request
//! that got no usable reply) is indeterminate for a write; a read that got
//! no value changed nothing, so it fails. For the convergence checker the
//! client also asks for one node's own replica (`read-local`) and a key's
//! replica nodes (`preflist`).

use checkers::OpType;
use serde_json::{json, Value};

use super::{AdapterClient, Replicas, Reply, RequestFailure, Shape};
use crate::register::versioned;
use crate::ringkv::RequestError;
use crate::{counter, orset, set, siblings, Client, Completion, Invocation, LocalRead};
use tokio::time::Instant;

impl AdapterClient {
    /// How a request that may have had an effect ended.
    fn write_outcome(
        &self,
        asked: &Value,
        ok: Value,
        r: Result<Reply, RequestFailure>,
    ) -> Completion {
        match r {
            Ok(reply) => match reply.kind {
                OpType::Ok => Completion::ok(ok),
                OpType::Fail => Completion::fail(
                    asked.clone(),
                    reply
                        .error
                        .unwrap_or_else(|| "the adapter replied fail".into()),
                ),
                _ => Completion::info(
                    asked.clone(),
                    reply
                        .error
                        .unwrap_or_else(|| "the adapter replied info".into()),
                ),
            },
            Err(e) => Completion::info(asked.clone(), e.to_string()),
        }
    }

    /// A read's reply that is not `ok`: a read changes nothing, so it
    /// failed, whatever the adapter called it.
    fn read_error(reply: &Reply) -> String {
        reply
            .error
            .clone()
            .unwrap_or_else(|| format!("the adapter replied {}", type_name(reply.kind)))
    }

    /// The elements of an `ok` set read's value, or the protocol failure.
    async fn elements(&self, key: &str, reply: &Reply) -> Result<Vec<i64>, RequestFailure> {
        let items = reply.value.as_array().and_then(|items| {
            items
                .iter()
                .map(Value::as_i64)
                .collect::<Option<Vec<i64>>>()
        });
        match items {
            Some(items) => Ok(items),
            None => {
                let what =
                    format!("answers a read of {key} with a value that is not a list of integers");
                Err(self.bad_reply(reply.line, &what, &reply.raw).await)
            }
        }
    }

    async fn set_op(&self, op: &Invocation, keys: usize) -> Completion {
        match op.f.as_str() {
            "add" => {
                let Some(e) = op.value.as_i64() else {
                    return Completion::fail(op.value.clone(), "add needs an integer");
                };
                let key = set::key_for(e, keys);
                let r = self.request("add", &key, &op.value, self.deadline()).await;
                self.write_outcome(&op.value, op.value.clone(), r)
            }
            "read" => {
                let deadline = self.deadline();
                let mut all = std::collections::BTreeSet::new();
                for k in 0..keys {
                    let key = format!("set-{k}");
                    let reply = match self.request("read", &key, &Value::Null, deadline).await {
                        Ok(r) => r,
                        Err(RequestFailure::Timeout(d)) => {
                            return Completion::fail(
                                Value::Null,
                                format!("reading {key}: {}", RequestFailure::Timeout(d)),
                            )
                        }
                        Err(e) => return Completion::info(Value::Null, e.to_string()),
                    };
                    if reply.kind != OpType::Ok {
                        let e = Self::read_error(&reply);
                        return Completion::fail(Value::Null, format!("reading {key}: {e}"));
                    }
                    match self.elements(&key, &reply).await {
                        Ok(items) => all.extend(items),
                        Err(e) => return Completion::info(Value::Null, e.to_string()),
                    }
                }
                Completion::ok(json!(all.into_iter().collect::<Vec<_>>()))
            }
            other => Completion::fail(op.value.clone(), format!("set has no op {other:?}")),
        }
    }

    async fn register_op(&self, op: &Invocation) -> Completion {
        let Some([k, arg]) = op.value.as_array().map(Vec::as_slice) else {
            return Completion::fail(op.value.clone(), "register ops take [key, value]");
        };
        let Some(key) = k.as_str() else {
            return Completion::fail(op.value.clone(), "register keys are strings");
        };
        let deadline = self.deadline();
        match op.f.as_str() {
            "read" => match self.request("read", key, &Value::Null, deadline).await {
                Ok(r) if r.kind == OpType::Ok => {
                    Completion::ok(json!([key, versioned(r.value, r.version)]))
                }
                Ok(r) => Completion::fail(op.value.clone(), Self::read_error(&r)),
                Err(e @ RequestFailure::Timeout(_)) => {
                    Completion::fail(op.value.clone(), e.to_string())
                }
                Err(e) => Completion::info(op.value.clone(), e.to_string()),
            },
            "write" => {
                let r = self.request("write", key, arg, deadline).await;
                let version = r.as_ref().ok().and_then(|r| r.version);
                self.write_outcome(&op.value, json!([key, versioned(arg.clone(), version)]), r)
            }
            "cas" => {
                if arg.as_array().is_none_or(|a| a.len() != 2) {
                    return Completion::fail(op.value.clone(), "cas takes [key, [old, new]]");
                }
                match self.request("cas", key, arg, deadline).await {
                    // Evidence that the register held another value.
                    Ok(r)
                        if r.kind == OpType::Fail
                            && r.error.as_deref().is_none_or(|e| e == "mismatch") =>
                    {
                        Completion::fail(op.value.clone(), checkers::linear::compile::CAS_MISMATCH)
                    }
                    r => self.write_outcome(&op.value, op.value.clone(), r),
                }
            }
            other => Completion::fail(op.value.clone(), format!("register has no op {other:?}")),
        }
    }
}

impl AdapterClient {
    /// One read request whose `ok` value is the answer; `Err` is the
    /// read's completion when it failed (a read changed nothing, so it
    /// fails unless the process broke the protocol).
    async fn read_request(
        &self,
        asked: &Value,
        key: &str,
        deadline: Instant,
    ) -> Result<Reply, Completion> {
        match self.request("read", key, &Value::Null, deadline).await {
            Ok(r) if r.kind == OpType::Ok => Ok(r),
            Ok(r) => Err(Completion::fail(asked.clone(), Self::read_error(&r))),
            Err(e @ RequestFailure::Timeout(_)) => {
                Err(Completion::fail(asked.clone(), e.to_string()))
            }
            Err(e) => Err(Completion::info(asked.clone(), e.to_string())),
        }
    }

    /// The value of an `ok` reply that must be a list, or the protocol
    /// failure naming what was asked.
    async fn list(&self, what: &str, reply: &Reply) -> Result<Vec<Value>, RequestFailure> {
        match reply.value.as_array() {
            Some(items) => Ok(items.clone()),
            None if reply.value.is_null() => Ok(Vec::new()),
            None => {
                let what = format!("answers {what} with a value that is not a list");
                Err(self.bad_reply(reply.line, &what, &reply.raw).await)
            }
        }
    }

    async fn counter_op(&self, op: &Invocation) -> Completion {
        let deadline = self.deadline();
        match op.f.as_str() {
            "add" => {
                if op.value.as_i64().is_none() {
                    return Completion::fail(op.value.clone(), "add needs an integer");
                }
                let r = self.request("add", counter::KEY, &op.value, deadline).await;
                self.write_outcome(&op.value, op.value.clone(), r)
            }
            "read" => match self
                .read_request(&Value::Null, counter::KEY, deadline)
                .await
            {
                Ok(r) if r.value.is_null() => Completion::ok(json!(0)),
                Ok(r) if r.value.is_i64() => Completion::ok(r.value),
                Ok(r) => {
                    let what = "answers a counter read with a value that is not an integer";
                    let e = self.bad_reply(r.line, what, &r.raw).await;
                    Completion::info(Value::Null, e.to_string())
                }
                Err(c) => c,
            },
            other => Completion::fail(op.value.clone(), format!("counter has no op {other:?}")),
        }
    }

    async fn orset_op(&self, op: &Invocation) -> Completion {
        let deadline = self.deadline();
        match op.f.as_str() {
            f @ ("add" | "remove") => {
                let r = self.request(f, orset::KEY, &op.value, deadline).await;
                self.write_outcome(&op.value, op.value.clone(), r)
            }
            "read" => match self.read_request(&Value::Null, orset::KEY, deadline).await {
                Ok(r) => match self.list("a read of the or-set", &r).await {
                    Ok(items) => Completion::ok(json!(items)),
                    Err(e) => Completion::info(Value::Null, e.to_string()),
                },
                Err(c) => c,
            },
            other => Completion::fail(op.value.clone(), format!("or-set has no op {other:?}")),
        }
    }

    async fn siblings_op(&self, op: &Invocation, context: bool) -> Completion {
        let Some((key, arg)) = keyed(op) else {
            return Completion::fail(op.value.clone(), "siblings ops take [key, value]");
        };
        let deadline = self.deadline();
        match op.f.as_str() {
            "read" => match self.read_request(&op.value, key, deadline).await {
                Ok(r) => match self.list(&format!("a read of {key}"), &r).await {
                    Ok(values) => Completion::ok(json!([key, values])),
                    Err(e) => Completion::info(op.value.clone(), e.to_string()),
                },
                Err(c) => c,
            },
            "write" => {
                let (context, seen) = if context {
                    // Read, think, write back with the context: the op's
                    // span covers the read, as the built-in client's does.
                    match self.read_request(&op.value, key, deadline).await {
                        Ok(r) => {
                            tokio::time::sleep(siblings::THINK).await;
                            let seen = self
                                .list(&format!("a read of {key}"), &r)
                                .await
                                .unwrap_or_default();
                            (r.context.unwrap_or(Value::Null), Some(seen))
                        }
                        Err(c) => {
                            return Completion::fail(op.value.clone(), c.error.unwrap_or_default())
                        }
                    }
                } else {
                    (Value::Null, None)
                };
                let r = self
                    .request_with("write", key, arg, &[("context", &context)], deadline)
                    .await;
                siblings::with_seen(self.write_outcome(&op.value, op.value.clone(), r), seen)
            }
            other => Completion::fail(op.value.clone(), format!("siblings has no op {other:?}")),
        }
    }

    async fn sequence_op(&self, op: &Invocation) -> Completion {
        let Some((list, arg)) = keyed(op) else {
            return Completion::fail(op.value.clone(), "sequence ops take [list, element]");
        };
        let deadline = self.deadline();
        let memory = || self.memory.lock().unwrap_or_else(|p| p.into_inner());
        match op.f.as_str() {
            "insert" => {
                let after = memory().after(list).unwrap_or(Value::Null);
                let r = self
                    .request_with("insert", list, arg, &[("after", &after)], deadline)
                    .await;
                let done = self.write_outcome(&op.value, op.value.clone(), r);
                if done.kind == OpType::Ok {
                    memory().inserted(list, arg.clone());
                }
                done
            }
            "delete" => {
                let r = self.request("delete", list, arg, deadline).await;
                self.write_outcome(&op.value, op.value.clone(), r)
            }
            "read-list" => match self.read_request(&op.value, list, deadline).await {
                Ok(r) => match self.list(&format!("a read of {list}"), &r).await {
                    Ok(items) => {
                        memory().saw(list, items.clone());
                        Completion::ok(json!([list, items]))
                    }
                    Err(e) => Completion::info(op.value.clone(), e.to_string()),
                },
                Err(c) => c,
            },
            other => Completion::fail(op.value.clone(), format!("sequence has no op {other:?}")),
        }
    }

    /// A `session` op: a register read or write whose `ok` reply must
    /// carry the store's version (a read of a key never written excepted).
    async fn session_op(&self, op: &Invocation) -> Completion {
        let done = self.register_op(op).await;
        if done.kind != OpType::Ok {
            return done;
        }
        let value = &done.value[1];
        if !value.is_null() && value.get("version").is_none() {
            let what = format!(
                "answers a session {} of {} without the integer \"version\" the session workload orders values by",
                op.f, op.value[0]
            );
            let m = self.broke(&what, "replies").to_string();
            return Completion::info(op.value.clone(), m);
        }
        done
    }
}

/// A `[key, argument]` op's key and argument.
fn keyed(op: &Invocation) -> Option<(&str, &Value)> {
    match op.value.as_array().map(Vec::as_slice) {
        Some([k, arg]) => Some((k.as_str()?, arg)),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Client for AdapterClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match self.shape {
            Shape::Set { keys } => self.set_op(op, keys).await,
            Shape::Register => self.register_op(op).await,
            Shape::Counter => self.counter_op(op).await,
            Shape::Siblings { context } => self.siblings_op(op, context).await,
            Shape::OrSet => self.orset_op(op).await,
            Shape::Sequence => self.sequence_op(op).await,
            Shape::Session => self.session_op(op).await,
        }
    }
}

#[async_trait::async_trait]
impl LocalRead for AdapterClient {
    async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        if let Replicas::All(nodes) = &self.replicas {
            return Ok(nodes.clone());
        }
        let reply = self
            .request("preflist", key, &Value::Null, self.deadline())
            .await
            .map_err(|e| RequestError::Definite(e.to_string()))?;
        if reply.kind != OpType::Ok {
            return Err(RequestError::Definite(Self::read_error(&reply)));
        }
        let names = reply.value.as_array().and_then(|a| {
            a.iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        });
        match names {
            Some(names) => Ok(names),
            None => {
                let what = format!(
                    "answers the preflist of {key} with a value that is not a list of node names"
                );
                let e = self.bad_reply(reply.line, &what, &reply.raw).await;
                Err(RequestError::Definite(e.to_string()))
            }
        }
    }

    /// The replica's value; a set's elements sorted and without
    /// duplicates, so replicas holding the same set compare equal.
    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        let reply = self
            .request("read-local", key, &Value::Null, self.deadline())
            .await
            .map_err(|e| RequestError::Definite(e.to_string()))?;
        if reply.kind != OpType::Ok {
            return Err(RequestError::Definite(Self::read_error(&reply)));
        }
        match self.shape {
            Shape::Set { .. } if reply.value.is_null() => Ok(Value::Null),
            Shape::Set { .. } => {
                let mut items = self
                    .elements(key, &reply)
                    .await
                    .map_err(|e| RequestError::Definite(e.to_string()))?;
                items.sort_unstable();
                items.dedup();
                Ok(json!(items))
            }
            _ => Ok(reply.value),
        }
    }
}

fn type_name(kind: OpType) -> &'static str {
    match kind {
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
        OpType::Invoke => "invoke",
    }
}
