//! The wire side of a reply: one JSON object on one line.
//!
//! Every reply must be a JSON object that names the request it answers
//! (`id`) and its outcome (`type`: `ok`, `fail` or `info`); it may carry a
//! `value`, an `error`, an integer `version` and a `context`. A line that breaks these
//! rules stops the run: the first such failure goes to the
//! [`super::FailureSlot`], quoting the line. Whether a reply's value fits
//! the request (a list for a set read, say) is for the op that asked.

use std::time::Duration;

use checkers::OpType;
use serde_json::Value;

use super::AdapterClient;

/// One reply, as the adapter sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// `ok`, `fail` or `info`.
    pub kind: OpType,
    /// Its `value` (`null` when absent).
    pub value: Value,
    /// Its `error`, if any.
    pub error: Option<String>,
    /// Its `version`, if any.
    pub version: Option<i64>,
    /// Its `context` (a `siblings` read's causal context, opaque), if any.
    pub context: Option<Value>,
    /// The line's number in the process's output (1 is its first line).
    pub line: u64,
    /// The line as read, for failure messages.
    pub raw: String,
}

/// Why a request got no usable reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestFailure {
    /// No reply in time; the process was killed and the next request
    /// starts a fresh one.
    #[error("timeout: no reply from the adapter within {0:?}")]
    Timeout(Duration),
    /// The adapter broke the protocol (the message is also in the
    /// [`super::FailureSlot`]).
    #[error("{0}")]
    Protocol(String),
}

impl AdapterClient {
    /// Parses reply line `n`, which must answer request `id`.
    pub(super) async fn parse(
        &self,
        id: u64,
        n: u64,
        raw: String,
    ) -> Result<Reply, RequestFailure> {
        let Ok(v) = serde_json::from_str::<Value>(&raw) else {
            return Err(self.bad_reply(n, "is not JSON", &raw).await);
        };
        let Some(obj) = v.as_object() else {
            return Err(self.bad_reply(n, "is not a JSON object", &raw).await);
        };
        match obj.get("id").and_then(Value::as_u64) {
            Some(got) if got == id => {}
            Some(got) => {
                let what = format!("answers request {got}, but request {id} was asked");
                return Err(self.bad_reply(n, &what, &raw).await);
            }
            None => {
                let what = format!("has no integer \"id\" (request {id} was asked)");
                return Err(self.bad_reply(n, &what, &raw).await);
            }
        }
        let kind = match obj.get("type").and_then(Value::as_str) {
            Some("ok") => OpType::Ok,
            Some("fail") => OpType::Fail,
            Some("info") => OpType::Info,
            _ => {
                let what = "has no \"type\" of \"ok\", \"fail\" or \"info\"";
                return Err(self.bad_reply(n, what, &raw).await);
            }
        };
        let version = match obj.get("version") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(v) => Some(v),
                None => {
                    let what = "has a \"version\" that is not an integer";
                    return Err(self.bad_reply(n, what, &raw).await);
                }
            },
        };
        let error = match obj.get("error") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        Ok(Reply {
            kind,
            value: obj.get("value").cloned().unwrap_or(Value::Null),
            error,
            version,
            context: obj.get("context").filter(|c| !c.is_null()).cloned(),
            line: n,
            raw,
        })
    }
}
