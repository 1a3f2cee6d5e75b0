//! An HTTP client for ringkv's JSON API (see `ringkv/README.md`).
//!
//! Each method maps the store's answer onto the three honest outcomes. The
//! rules, from the store's semantics:
//! - a connection that could not be opened: the request never left → `fail`;
//! - a timeout or a connection lost mid-request → `info` (unknown);
//! - `503 quorum` on a *write*: some replicas may have applied it → `info`;
//! - `503` on a *read*, or any `4xx`: nothing changed → `fail`;
//! - `503 quorum` with `replies` on a *write*: the read quorum some updates
//!   take before changing anything (an OR-set remove, a sequence insert
//!   after or remove of an element) was missed, so nothing changed → `fail`.

use serde_json::{json, Value};
use std::time::Duration;

/// Why a request did not return a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The request certainly had no effect.
    Definite(String),
    /// The request may have had an effect.
    Indeterminate(String),
}

/// A register as read: its sibling values and the context to write back.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    /// One value, or several concurrent siblings (300 Multiple Choices).
    pub values: Vec<Value>,
    /// The causal context (sibling modes); `None` under LWW.
    pub context: Option<Value>,
    /// The version the store orders the value by: its LWW timestamp
    /// (`None` in sibling modes, where versions are vectors).
    pub version: Option<i64>,
}

/// An HTTP client for one node of a store: every request (connecting
/// included) bounded by `timeout`, a few idle connections kept.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(4)
        .build()
        .expect("a reqwest client with only timeouts set always builds")
}

/// A client bound to one ringkv node.
#[derive(Clone)]
pub struct RingkvClient {
    http: reqwest::Client,
    base: String,
}

impl RingkvClient {
    /// A client for the node at `addr` (`ip:port`), giving up on any request
    /// after `timeout`.
    pub fn new(addr: &str, timeout: Duration) -> Self {
        RingkvClient {
            http: http_client(timeout),
            base: format!("http://{addr}"),
        }
    }

    /// Adds `element` to the grow-only set at `key`.
    pub async fn set_add(&self, key: &str, element: i64) -> Result<(), RequestError> {
        let url = format!("{}/set/{}", self.base, encode(key));
        let r = self
            .http
            .post(url)
            .json(&json!({ "element": element }))
            .send();
        self.write_outcome(r.await).await.map(|_| ())
    }

    /// Reads the set at `key` through a read quorum.
    pub async fn set_read(&self, key: &str) -> Result<Vec<i64>, RequestError> {
        let url = format!("{}/set/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        let body = body.ok_or_else(|| RequestError::Definite("set read: 404".into()))?;
        serde_json::from_value(body["elements"].clone())
            .map_err(|e| RequestError::Definite(format!("set read: bad elements: {e}")))
    }

    /// The key's preference list (owner first), as this node computes it.
    pub async fn preflist(&self, key: &str) -> Result<Vec<String>, RequestError> {
        let url = format!("{}/admin/preflist/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        let body = body.ok_or_else(|| RequestError::Definite("preflist: 404".into()))?;
        serde_json::from_value(body["nodes"].clone())
            .map_err(|e| RequestError::Definite(format!("preflist: {e}")))
    }

    /// This node's own replica of set `key`, uncoordinated (`None`: it
    /// holds nothing for the key).
    pub async fn set_read_local(&self, key: &str) -> Result<Option<Vec<i64>>, RequestError> {
        let url = format!("{}/admin/local/set/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        body.map(|b| {
            serde_json::from_value(b["elements"].clone())
                .map_err(|e| RequestError::Definite(format!("local set read: {e}")))
        })
        .transpose()
    }

    /// Adds `delta` to the PN-counter `key`.
    pub async fn counter_add(&self, key: &str, delta: i64) -> Result<(), RequestError> {
        let url = format!("{}/counter/{}", self.base, encode(key));
        let r = self.http.post(url).json(&json!({ "delta": delta })).send();
        self.write_outcome(r.await).await.map(|_| ())
    }

    /// Reads the PN-counter `key` through a read quorum (0 when absent).
    pub async fn counter_read(&self, key: &str) -> Result<Value, RequestError> {
        let url = format!("{}/counter/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        Ok(body.map(|b| b["value"].clone()).unwrap_or(json!(0)))
    }

    /// Adds (`what` = `add`) or removes (`remove`) `element` in OR-set `key`.
    pub async fn orset_update(
        &self,
        key: &str,
        what: &str,
        element: &Value,
    ) -> Result<(), RequestError> {
        let url = format!("{}/orset/{}", self.base, encode(key));
        let mut body = json!({});
        body[what] = element.clone();
        let r = self.http.post(url).json(&body).send();
        self.write_outcome(r.await).await.map(|_| ())
    }

    /// Reads a CRDT (`kind`: counter, orset, seq) through a read quorum, as
    /// its JSON view; `{}` when absent.
    pub async fn crdt_read(&self, key: &str, kind: &str) -> Result<Value, RequestError> {
        let url = format!("{}/{kind}/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        Ok(body.unwrap_or(json!({})))
    }

    /// This node's own state of a CRDT (`kind`: counter, orset, seq), as
    /// the admin API shows it; `None` when absent.
    pub async fn crdt_read_local(
        &self,
        kind: &str,
        key: &str,
    ) -> Result<Option<Value>, RequestError> {
        let url = format!("{}/admin/local/{kind}/{}", self.base, encode(key));
        self.read_outcome(self.http.get(url).send().await).await
    }

    /// Reads the linearizable register `key` (ringkv's `/cas`, a Paxos
    /// round): its value (`null` when it was never written) and the
    /// version (ballot) it was chosen at, which grows with every write.
    pub async fn cas_read(&self, key: &str) -> Result<(Value, Option<i64>), RequestError> {
        let url = format!("{}/cas/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        Ok(body
            .map(|b| (b["value"].clone(), b["version"].as_i64()))
            .unwrap_or((Value::Null, None)))
    }

    /// Writes the linearizable register `key`; returns the version the
    /// value was chosen at.
    pub async fn cas_write(&self, key: &str, value: &Value) -> Result<Option<i64>, RequestError> {
        let url = format!("{}/cas/{}", self.base, encode(key));
        let r = self.http.put(url).json(&json!({ "value": value })).send();
        self.write_outcome(r.await)
            .await
            .map(|b| b["version"].as_i64())
    }

    /// Compare-and-set on the linearizable register `key`: `Ok(true)` if it
    /// held `old` and now holds `new`, `Ok(false)` if it held something
    /// else (a 409: nothing changed).
    pub async fn cas_swap(
        &self,
        key: &str,
        old: &Value,
        new: &Value,
    ) -> Result<bool, RequestError> {
        let url = format!("{}/cas/{}", self.base, encode(key));
        let r = self
            .http
            .post(url)
            .json(&json!({ "expected": old, "value": new }))
            .send()
            .await
            .map_err(classify)?;
        if r.status() == reqwest::StatusCode::CONFLICT {
            return Ok(false);
        }
        self.write_outcome(Ok(r)).await.map(|_| true)
    }

    /// This node's own replica of register `key` as the admin API shows it
    /// (value and timestamp, or siblings and context); `None`: absent.
    pub async fn kv_read_local(&self, key: &str) -> Result<Option<Value>, RequestError> {
        let url = format!("{}/admin/local/kv/{}", self.base, encode(key));
        self.read_outcome(self.http.get(url).send().await).await
    }

    /// Reads the register at `key`: its siblings (one value under LWW, or
    /// when nothing is concurrent) and the causal context to write back;
    /// `None` when the key does not exist.
    pub async fn kv_get(&self, key: &str) -> Result<Option<Versioned>, RequestError> {
        let url = format!("{}/kv/{}", self.base, encode(key));
        let body = self.read_outcome(self.http.get(url).send().await).await?;
        Ok(body.map(|b| {
            let values = match b.get("siblings").and_then(Value::as_array) {
                Some(siblings) => siblings.clone(),
                None => vec![b["value"].clone()],
            };
            Versioned {
                values,
                context: b.get("context").cloned(),
                version: b.get("timestamp").and_then(Value::as_i64),
            }
        }))
    }

    /// Writes `value` to the last-write-wins register at `key` and returns
    /// the version the store gave it: its timestamp (`None` in sibling
    /// modes).
    pub async fn kv_put_versioned(
        &self,
        key: &str,
        value: &Value,
    ) -> Result<Option<i64>, RequestError> {
        let url = format!("{}/kv/{}", self.base, encode(key));
        let r = self.http.put(url).json(&json!({ "value": value })).send();
        self.write_outcome(r.await)
            .await
            .map(|b| b["timestamp"].as_i64())
    }

    /// Inserts `value` into the sequence `key`: right after the element
    /// holding `after` (ringkv resolves it against a read quorum; a 409
    /// when none holds it, which changed nothing), or at the end of the
    /// list as the applying replica sees it when `after` is `None`.
    pub async fn seq_insert(
        &self,
        key: &str,
        value: &Value,
        after: Option<&Value>,
    ) -> Result<(), RequestError> {
        let url = format!("{}/seq/{}", self.base, encode(key));
        let body = match after {
            Some(a) => json!({ "insert": value, "after": a }),
            None => json!({ "insert": value }),
        };
        let r = self.http.post(url).json(&body).send();
        self.write_outcome(r.await).await.map(|_| ())
    }

    /// Deletes the elements holding `value` from the sequence `key` (a 409
    /// when no replica of the read quorum holds one: nothing changed).
    pub async fn seq_remove(&self, key: &str, value: &Value) -> Result<(), RequestError> {
        let url = format!("{}/seq/{}", self.base, encode(key));
        let r = self.http.post(url).json(&json!({ "remove": value })).send();
        self.write_outcome(r.await).await.map(|_| ())
    }

    /// Writes `value` to the register at `key`, superseding what `context`
    /// (from a read) covers; `client` identifies the writer for per-client
    /// vector clocks. Under LWW the context is ignored.
    pub async fn kv_put(
        &self,
        key: &str,
        value: &Value,
        context: Option<&Value>,
        client: Option<&str>,
    ) -> Result<(), RequestError> {
        let mut url = format!("{}/kv/{}", self.base, encode(key));
        if let Some(c) = client {
            url.push_str(&format!("?client={}", encode(c)));
        }
        let mut body = json!({ "value": value });
        if let Some(ctx) = context {
            body["context"] = ctx.clone();
        }
        let r = self.http.put(url).json(&body).send();
        self.write_outcome(r.await).await.map(|_| ())
    }

    async fn write_outcome(
        &self,
        r: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Value, RequestError> {
        let resp = r.map_err(classify)?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| RequestError::Indeterminate(format!("reading reply: {e}")))?;
        if status.is_success() {
            Ok(body)
        } else if status.is_client_error() || missed_read_quorum(status, &body) {
            Err(RequestError::Definite(format!("{status}: {body}")))
        } else {
            Err(RequestError::Indeterminate(format!("{status}: {body}")))
        }
    }

    async fn read_outcome(
        &self,
        r: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Option<Value>, RequestError> {
        let resp = r.map_err(|e| match classify(e) {
            // A read that timed out changed nothing either.
            RequestError::Indeterminate(m) | RequestError::Definite(m) => RequestError::Definite(m),
        })?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body: Value = resp
            .json()
            .await
            .map_err(|e| RequestError::Definite(format!("reading reply: {e}")))?;
        // 300 Multiple Choices: siblings, a full answer.
        if status.is_success() || status == reqwest::StatusCode::MULTIPLE_CHOICES {
            Ok(Some(body))
        } else {
            Err(RequestError::Definite(format!("{status}: {body}")))
        }
    }
}

/// A write that failed on the read quorum it takes before changing
/// anything: ringkv's 503 names `replies` (a read quorum) rather than
/// `acks` (a write quorum).
fn missed_read_quorum(status: reqwest::StatusCode, body: &Value) -> bool {
    status == reqwest::StatusCode::SERVICE_UNAVAILABLE
        && body["error"] == "quorum"
        && body.get("replies").is_some()
}

fn classify(e: reqwest::Error) -> RequestError {
    if e.is_connect() && !e.is_timeout() {
        RequestError::Definite(format!("connect: {}", root_cause(&e)))
    } else if e.is_timeout() {
        RequestError::Indeterminate("timeout".into())
    } else {
        RequestError::Indeterminate(root_cause(&e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Percent-encodes a key for use as one URL path segment.
fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_path_segment() {
        assert_eq!(encode("set-1"), "set-1");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(encode("../x"), "..%2Fx");
    }

    #[test]
    fn only_a_missed_read_quorum_makes_a_503_write_definite() {
        let unavailable = reqwest::StatusCode::SERVICE_UNAVAILABLE;
        let read = json!({"error": "quorum", "needed": 2, "replies": 1});
        let write = json!({"error": "quorum", "needed": 2, "acks": 1});
        assert!(missed_read_quorum(unavailable, &read));
        assert!(!missed_read_quorum(unavailable, &write));
        assert!(!missed_read_quorum(reqwest::StatusCode::OK, &read));
        assert!(!missed_read_quorum(
            unavailable,
            &json!({"error": "timeout", "replies": 0})
        ));
    }

    #[tokio::test]
    async fn refused_connection_is_a_definite_failure() {
        // Port 1 on loopback: nothing listens there.
        let c = RingkvClient::new("127.0.0.1:1", Duration::from_millis(500));
        match c.set_add("k", 1).await {
            Err(RequestError::Definite(m)) => assert!(m.contains("connect"), "{m}"),
            other => panic!("expected a definite failure, got {other:?}"),
        }
    }
}
