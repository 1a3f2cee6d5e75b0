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
use crate::{set, Client, Completion, Invocation, LocalRead};

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

#[async_trait::async_trait]
impl Client for AdapterClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match self.shape {
            Shape::Set { keys } => self.set_op(op, keys).await,
            Shape::Register => self.register_op(op).await,
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
            Shape::Register => Ok(reply.value),
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
