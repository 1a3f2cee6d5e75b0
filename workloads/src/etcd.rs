//! etcd registers through etcd's v3 JSON gateway.
//!
//! etcd 3.4 (Debian's `etcd-server`) serves its gRPC API as JSON over plain
//! HTTP on the client port (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`,
//! keys and values base64-encoded). Speaking that instead of gRPC keeps
//! faultline free of a protobuf toolchain and of a second HTTP stack: the
//! same `reqwest` client that talks to ringkv talks to etcd, with the same
//! timeouts, and what goes over the wire is readable in a packet capture.
//!
//! The `register` workload's ops map onto etcd as Jepsen's etcd test maps
//! them: a read is a range of one key, a write a put, a compare-and-set a
//! transaction that puts the new value if the key's value equals the old
//! one. Values are stored as their JSON text. Every ok read and write
//! carries the key's `mod_revision` as its version, so the session and
//! staleness checkers can order a key's values (revisions only grow).
//!
//! Reads come in etcd's two modes (`--client`):
//! - `linearizable` (etcd's default): the member confirms with a quorum
//!   that it is still current (ReadIndex) before answering; an isolated
//!   member cannot answer at all;
//! - `serializable`: the member answers from its own copy, whatever the
//!   cluster has committed since: a member cut off by a partition serves
//!   stale values, which the linearizability checker must catch.
//!
//! Outcomes follow the crate's rule: a request that could not connect had no
//! effect (`fail`); a timeout, a lost connection, or an error from the
//! server after a write was sent may have had one (`info`); a read that did
//! not answer changed nothing (`fail`); a transaction whose compare did not
//! hold changed nothing (`fail`, and evidence the value differed).

use crate::ringkv::RequestError;
use crate::{Client, Completion, Invocation, LocalRead, WorkloadError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::time::Duration;

/// The client modes of `register` on etcd.
pub const MODES: &[&str] = &["linearizable", "serializable"];

/// How reads are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Through a quorum (ReadIndex): linearizable.
    Linearizable,
    /// From the member's own state: may be stale.
    Serializable,
}

impl ReadMode {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<ReadMode, WorkloadError> {
        match s {
            "linearizable" => Ok(ReadMode::Linearizable),
            "serializable" => Ok(ReadMode::Serializable),
            other => Err(WorkloadError::UnknownMode {
                workload: "register".into(),
                mode: other.into(),
                known: MODES.join(", "),
            }),
        }
    }

    /// The name `--client` accepts.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Linearizable => "linearizable",
            ReadMode::Serializable => "serializable",
        }
    }
}

/// A key's value as read, with the revision it was last written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    /// The value (`null` when the key does not exist).
    pub value: Value,
    /// Its `mod_revision` (`None` when the key does not exist).
    pub revision: Option<i64>,
}

/// A client bound to one etcd member.
#[derive(Clone)]
pub struct EtcdClient {
    http: reqwest::Client,
    base: String,
}

impl EtcdClient {
    /// A client for the member whose client URL is `http://{addr}`, giving
    /// up on any request after `timeout`.
    pub fn new(addr: &str, timeout: Duration) -> Self {
        EtcdClient {
            http: crate::ringkv::http_client(timeout),
            base: format!("http://{addr}"),
        }
    }

    /// Reads `key`, through a quorum or from this member alone.
    pub async fn get(&self, key: &str, mode: ReadMode) -> Result<Read, RequestError> {
        let mut body = json!({ "key": B64.encode(key) });
        if mode == ReadMode::Serializable {
            body["serializable"] = json!(true);
        }
        let reply = self
            .call("/v3/kv/range", &body)
            .await
            .map_err(RequestError::into_definite)?;
        let Some(kv) = reply["kvs"].as_array().and_then(|kvs| kvs.first()) else {
            return Ok(Read {
                value: Value::Null,
                revision: None,
            });
        };
        Ok(Read {
            value: decode_value(&kv["value"])?,
            revision: Some(int64(&kv["mod_revision"])?),
        })
    }

    /// Writes `value` to `key`; returns the revision it was written at.
    pub async fn put(&self, key: &str, value: &Value) -> Result<i64, RequestError> {
        let body = json!({ "key": B64.encode(key), "value": encode_value(value) });
        let reply = self.call("/v3/kv/put", &body).await?;
        int64(&reply["header"]["revision"])
    }

    /// Sets `key` to `new` if it holds `old` (`null`: if it does not exist),
    /// in one transaction. `Ok(false)`: it held something else.
    pub async fn cas(&self, key: &str, old: &Value, new: &Value) -> Result<bool, RequestError> {
        let k = B64.encode(key);
        let compare = if old.is_null() {
            json!({ "key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0" })
        } else {
            json!({ "key": k, "target": "VALUE", "result": "EQUAL", "value": encode_value(old) })
        };
        let body = json!({
            "compare": [compare],
            "success": [{ "request_put": { "key": k, "value": encode_value(new) } }],
        });
        let reply = self.call("/v3/kv/txn", &body).await?;
        // proto3 JSON leaves out `false`.
        Ok(reply["succeeded"].as_bool().unwrap_or(false))
    }

    /// POSTs `body` to the gateway; classifies what went wrong.
    async fn call(&self, path: &str, body: &Value) -> Result<Value, RequestError> {
        let sent = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(RequestError::Definite(format!("{path}: connect: {e}")))
            }
            Err(e) if e.is_timeout() => {
                return Err(RequestError::Indeterminate(format!("{path}: timeout")))
            }
            Err(e) => return Err(RequestError::Indeterminate(format!("{path}: {e}"))),
        };
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Err(RequestError::Indeterminate(format!("{path}: {e}"))),
        };
        let reply: Value = serde_json::from_str(&text).map_err(|_| {
            RequestError::Indeterminate(format!("{path}: {status}: {}", first_line(&text)))
        })?;
        if !status.is_success() || reply.get("error").is_some() {
            let msg = reply["error"]
                .as_str()
                .or(reply["message"].as_str())
                .unwrap_or("error");
            // The server took the request: a write may have been
            // proposed (a timeout or a leader change after proposing
            // leaves it unknown).
            return Err(RequestError::Indeterminate(format!(
                "{path}: {status}: {msg}"
            )));
        }
        Ok(reply)
    }
}

impl RequestError {
    /// For reads: whatever went wrong, nothing changed.
    fn into_definite(self) -> RequestError {
        match self {
            RequestError::Indeterminate(m) => RequestError::Definite(m),
            d => d,
        }
    }
}

fn first_line(s: &str) -> &str {
    let line = s.lines().next().unwrap_or("");
    &line[..line.len().min(200)]
}

/// etcd's int64 fields come as JSON strings; a missing one is 0.
fn int64(v: &Value) -> Result<i64, RequestError> {
    match v {
        Value::Null => Ok(0),
        Value::String(s) => s
            .parse()
            .map_err(|_| RequestError::Definite(format!("etcd sent a bad integer {s:?}"))),
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| RequestError::Definite(format!("etcd sent a bad integer {n}"))),
        other => Err(RequestError::Definite(format!(
            "etcd sent a bad integer {other}"
        ))),
    }
}

fn encode_value(v: &Value) -> String {
    B64.encode(v.to_string())
}

fn decode_value(v: &Value) -> Result<Value, RequestError> {
    // An empty value is left out of the JSON altogether.
    let text = match v.as_str() {
        None => return Ok(Value::Null),
        Some(b) => B64
            .decode(b)
            .map_err(|e| RequestError::Definite(format!("etcd value is not base64: {e}")))?,
    };
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&text).map_err(|_| {
        RequestError::Definite(format!(
            "key holds {:?}, not a value faultline wrote",
            String::from_utf8_lossy(&text)
        ))
    })
}

/// The `register` workload's client on etcd.
pub struct EtcdRegisterClient {
    etcd: EtcdClient,
    reads: ReadMode,
}

impl EtcdRegisterClient {
    /// A register client on `etcd`, reading in `reads` mode.
    pub fn new(etcd: EtcdClient, reads: ReadMode) -> Self {
        EtcdRegisterClient { etcd, reads }
    }
}

#[async_trait::async_trait]
impl Client for EtcdRegisterClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        let Some([k, arg]) = op.value.as_array().map(Vec::as_slice) else {
            return Completion::fail(op.value.clone(), "register ops take [key, value]");
        };
        let Some(key) = k.as_str() else {
            return Completion::fail(op.value.clone(), "register keys are strings");
        };
        match op.f.as_str() {
            "read" => Completion::of_read(
                op.value.clone(),
                self.etcd
                    .get(key, self.reads)
                    .await
                    .map(|r| json!([key, crate::register::versioned(r.value, r.revision)])),
            ),
            "write" => match self.etcd.put(key, arg).await {
                Ok(rev) => Completion::ok(json!([
                    key,
                    crate::register::versioned(arg.clone(), Some(rev))
                ])),
                Err(RequestError::Definite(m)) => Completion::fail(op.value.clone(), m),
                Err(RequestError::Indeterminate(m)) => Completion::info(op.value.clone(), m),
            },
            "cas" => {
                let Some([old, new]) = arg.as_array().map(Vec::as_slice) else {
                    return Completion::fail(op.value.clone(), "cas takes [key, [old, new]]");
                };
                match self.etcd.cas(key, old, new).await {
                    Ok(true) => Completion::ok(op.value.clone()),
                    Ok(false) => {
                        Completion::fail(op.value.clone(), checkers::linear::compile::CAS_MISMATCH)
                    }
                    Err(RequestError::Definite(m)) => Completion::fail(op.value.clone(), m),
                    Err(RequestError::Indeterminate(m)) => Completion::info(op.value.clone(), m),
                }
            }
            other => Completion::fail(op.value.clone(), format!("register has no op {other:?}")),
        }
    }
}

/// Each member's own copy of a key (a serializable read), for the
/// convergence checker: after healing, every member must hold the same
/// value at the same revision.
pub struct EtcdLocalReader {
    etcd: EtcdClient,
    members: Vec<String>,
}

impl EtcdLocalReader {
    /// A local reader of the member `etcd`, in a cluster of `members`
    /// (every member replicates every key).
    pub fn new(etcd: EtcdClient, members: Vec<String>) -> Self {
        EtcdLocalReader { etcd, members }
    }
}

#[async_trait::async_trait]
impl LocalRead for EtcdLocalReader {
    async fn preflist(&self, _key: &str) -> Result<Vec<String>, RequestError> {
        Ok(self.members.clone())
    }

    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        let r = self.etcd.get(key, ReadMode::Serializable).await?;
        Ok(crate::register::versioned(r.value, r.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_as_json_text() {
        for v in [json!(3), json!("x\"y"), json!([1, 2]), json!(null)] {
            let enc = Value::String(encode_value(&v));
            assert_eq!(decode_value(&enc).unwrap(), v);
        }
        // A key etcd holds with no value at all, and one faultline did not
        // write.
        assert_eq!(decode_value(&Value::Null).unwrap(), Value::Null);
        let foreign = Value::String(B64.encode("not json"));
        assert!(matches!(
            decode_value(&foreign),
            Err(RequestError::Definite(m)) if m.contains("not json")
        ));
    }

    #[test]
    fn int64_fields_come_as_strings() {
        assert_eq!(int64(&json!("42")).unwrap(), 42);
        assert_eq!(int64(&json!(7)).unwrap(), 7);
        assert_eq!(int64(&Value::Null).unwrap(), 0);
        assert!(int64(&json!("x")).is_err());
    }

    #[test]
    fn modes_parse_and_name_themselves() {
        for m in MODES {
            assert_eq!(ReadMode::parse(m).unwrap().name(), *m);
        }
        assert!(ReadMode::parse("quorum").is_err());
    }
}
