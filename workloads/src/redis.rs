//! A `set` workload client for Redis with Sentinel.
//!
//! Redis replicates asynchronously from one primary to its replicas, and
//! Sentinel promotes a replica when a majority of Sentinels stop hearing
//! from the primary. A primary cut off by a partition does not know it was
//! replaced: it goes on acknowledging writes until the partition heals and
//! Sentinel turns it into a replica of the new primary, which throws its
//! data away. Those acknowledged SADDs are lost, and the set checkers name
//! them. This client does what a Sentinel-aware application does, so the
//! history shows what such an application would see.
//!
//! **Discovery.** The client asks the Sentinels, in the order it was given
//! (the store puts the one on the worker's own node first),
//! `SENTINEL get-master-addr-by-name <master>`; the first that names a
//! primary wins. It connects there and checks with `ROLE` that the server
//! really is a primary (Sentinel's client guidelines ask for this check:
//! a Sentinel's answer can be stale). The connection is kept for the next
//! operations until a connection error, a timeout or a `READONLY` reply,
//! after which the next operation discovers again; a cached connection is
//! checked with `PING` before each operation (a pool's test on borrow), so
//! one the server has closed is replaced before anything is sent on it.
//!
//! **Outcomes**, the honest mapping ([`crate::Completion`]):
//! - SADD acknowledged → `ok` (in `wait` mode: and `WAIT 1` counted a
//!   replica);
//! - refused before the SADD was sent (no Sentinel answered, no primary
//!   known, the connection, the `PING` or the `ROLE` check failed) or
//!   refused by the server (an error reply such as `READONLY`: Redis
//!   applies nothing of a command it rejects) → `fail`;
//! - a timeout or a connection lost after the SADD was sent → `info`;
//! - `wait` mode, `WAIT 1 <ms>` answering 0: the element sits on the
//!   primary alone, where a failover can lose it → `info`.
//!
//! Reads (`SMEMBERS` of every key, pipelined, on the primary) are `ok` or
//! `fail`: a read changes nothing. [`RedisLocalReader`] reads one node's
//! own server, primary or replica, with no discovery, for the convergence
//! checker.
//!
//! **Why the `redis` crate**, with only its `aio` and `tokio-comp`
//! features: it is the maintained Redis client for Rust (RESP parsing,
//! multiplexed async connections on tokio) and nothing more is needed.
//! Its own Sentinel support is left out on purpose: the order in which
//! Sentinels are asked, the `ROLE` check and above all where each error
//! happened (before or after the SADD left) decide `fail` versus `info`,
//! so discovery is written out here, in a few lines.

use crate::ringkv::RequestError;
use crate::{Client, Completion, Invocation, LocalRead, WorkloadError};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The name Sentinel monitors the primary under.
pub const MASTER_NAME: &str = "faultline";

/// The client modes of the set workload on Redis.
pub const MODES: &[&str] = &["plain", "wait"];

/// How a client writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// SADD alone: acknowledged by the primary.
    Plain,
    /// SADD, then `WAIT 1`: acknowledged once a replica has it too.
    Wait,
}

impl Mode {
    /// Parses a `--client` value.
    pub fn parse(s: &str) -> Result<Mode, WorkloadError> {
        match s {
            "plain" => Ok(Mode::Plain),
            "wait" => Ok(Mode::Wait),
            other => Err(WorkloadError::UnknownMode {
                workload: "set (redis)".into(),
                mode: other.into(),
                known: MODES.join(", "),
            }),
        }
    }

    /// The name `--client` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Wait => "wait",
        }
    }
}

/// The primary a client currently writes to.
struct Primary {
    addr: SocketAddr,
    conn: MultiplexedConnection,
}

/// A set-workload client that finds the primary through Sentinel.
pub struct RedisSetClient {
    sentinels: Vec<SocketAddr>,
    master: String,
    mode: Mode,
    keys: usize,
    timeout: Duration,
    primary: Mutex<Option<Primary>>,
}

/// A `Definite` error: nothing was sent, or the server refused it.
fn definite(what: &str, e: impl std::fmt::Display) -> RequestError {
    RequestError::Definite(format!("{what}: {e}"))
}

/// A Redis error as Redis writes it (`READONLY You can't write against a
/// read only replica.`), or the client library's own words.
fn shown(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// Runs `f` within what is left of the budget; `None` when it ran out.
async fn within<T>(deadline: Instant, f: impl Future<Output = T>) -> Option<T> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    tokio::time::timeout(left, f).await.ok()
}

/// Opens a connection to `addr` by `deadline`; the crate's own timeouts
/// are off, the caller's deadline rules.
async fn connect(addr: SocketAddr, deadline: Instant) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(format!("redis://{addr}/")).map_err(|e| e.to_string())?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(None)
        .set_response_timeout(None);
    match within(
        deadline,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Some(Ok(c)) => Ok(c),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("timed out connecting".into()),
    }
}

/// The role a server reports (`master`, `slave`, `sentinel`).
async fn role(conn: &mut MultiplexedConnection, deadline: Instant) -> Result<String, String> {
    let reply: redis::Value = match within(deadline, redis::cmd("ROLE").query_async(conn)).await {
        Some(r) => r.map_err(|e| e.to_string())?,
        None => return Err("ROLE timed out".into()),
    };
    match reply {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::BulkString(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
            Some(redis::Value::SimpleString(s)) => Ok(s.clone()),
            other => Err(format!("ROLE: unexpected first element {other:?}")),
        },
        other => Err(format!("ROLE: unexpected reply {other:?}")),
    }
}

/// Asks the Sentinel at `addr` where `master` is.
pub async fn ask_sentinel(
    addr: SocketAddr,
    master: &str,
    deadline: Instant,
) -> Result<Option<SocketAddr>, String> {
    let mut conn = connect(addr, deadline).await?;
    let reply: Option<(String, String)> = match within(
        deadline,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(master)
            .query_async(&mut conn),
    )
    .await
    {
        Some(r) => r.map_err(|e| e.to_string())?,
        None => return Err("timed out".into()),
    };
    let Some((ip, port)) = reply else {
        return Ok(None);
    };
    let ip: std::net::IpAddr = ip
        .parse()
        .map_err(|e| format!("primary address {ip:?}: {e}"))?;
    let port: u16 = port
        .parse()
        .map_err(|e| format!("primary port {port:?}: {e}"))?;
    Ok(Some(SocketAddr::new(ip, port)))
}

impl RedisSetClient {
    /// A client asking `sentinels` in this order (the nearest first) for
    /// the primary of `master`, writing in `mode`, the set spread over
    /// `keys` keys, each operation bounded by `timeout`.
    pub fn new(
        sentinels: Vec<SocketAddr>,
        master: &str,
        mode: Mode,
        keys: usize,
        timeout: Duration,
    ) -> Self {
        RedisSetClient {
            sentinels,
            master: master.to_string(),
            mode,
            keys: keys.max(1),
            timeout,
            primary: Mutex::new(None),
        }
    }

    /// The primary the Sentinels name, asked in order: the first answer
    /// wins; `Definite` when none names one (nothing was sent anywhere).
    pub async fn discover(&self, deadline: Instant) -> Result<SocketAddr, RequestError> {
        let mut why = Vec::new();
        for s in &self.sentinels {
            match ask_sentinel(*s, &self.master, deadline).await {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => why.push(format!("{s}: no primary known")),
                Err(e) => why.push(format!("{s}: {e}")),
            }
        }
        Err(RequestError::Definite(format!(
            "no primary known to the Sentinels ({})",
            why.join("; ")
        )))
    }

    /// The connection to the primary: the cached one, or a new one after
    /// discovery and a `ROLE` check. Every error here is `Definite`: the
    /// operation has sent nothing yet.
    async fn primary(
        &self,
        deadline: Instant,
    ) -> Result<(SocketAddr, MultiplexedConnection), RequestError> {
        let mut cached = self.primary.lock().await;
        if let Some(p) = cached.as_ref() {
            // Test on borrow: a connection the server closed (Sentinel
            // kills clients when it reconfigures a server, a kill -9) fails
            // this PING, not the command, whose fate would then be unknown.
            let mut conn = p.conn.clone();
            let ping = within(
                deadline,
                redis::cmd("PING").query_async::<String>(&mut conn),
            )
            .await;
            match ping {
                Some(Ok(_)) => return Ok((p.addr, conn)),
                Some(Err(e)) => tracing::debug!("dropping the connection to {}: {e}", p.addr),
                None => {
                    return Err(RequestError::Definite(format!(
                        "primary {} did not answer PING in time",
                        p.addr
                    )))
                }
            }
            *cached = None;
        }
        let addr = self.discover(deadline).await?;
        let mut conn = connect(addr, deadline)
            .await
            .map_err(|e| definite(&format!("connecting to primary {addr}"), e))?;
        let r = role(&mut conn, deadline)
            .await
            .map_err(|e| definite(&format!("checking the role of {addr}"), e))?;
        if r != "master" {
            return Err(RequestError::Definite(format!(
                "the Sentinels name {addr} as primary but it is a {r} (stale answer, failover under way)"
            )));
        }
        *cached = Some(Primary {
            addr,
            conn: conn.clone(),
        });
        Ok((addr, conn))
    }

    /// Forgets the primary: the next operation discovers it again.
    async fn forget(&self) {
        *self.primary.lock().await = None;
    }

    /// The address of the primary this client writes to now, if it has one.
    pub async fn current_primary(&self) -> Option<SocketAddr> {
        self.primary.lock().await.as_ref().map(|p| p.addr)
    }

    /// Adds `e` to its key on the primary.
    pub async fn add(&self, e: i64) -> Result<(), RequestError> {
        let deadline = Instant::now() + self.timeout;
        let (addr, mut conn) = self.primary(deadline).await?;
        let key = crate::set::key_for(e, self.keys);
        let sadd = within(
            deadline,
            redis::cmd("SADD")
                .arg(&key)
                .arg(e)
                .query_async::<i64>(&mut conn),
        )
        .await;
        match sadd {
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                // An error reply: the server refused the command and did
                // nothing (READONLY on a demoted primary). Anything else
                // (the connection broke) may have happened after it left.
                let refused = matches!(
                    err.kind(),
                    redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
                );
                self.forget().await;
                return Err(if refused {
                    definite(&format!("SADD on {addr} refused"), shown(&err))
                } else {
                    RequestError::Indeterminate(format!("SADD on {addr}: {err}"))
                });
            }
            None => {
                self.forget().await;
                return Err(RequestError::Indeterminate(format!(
                    "SADD on {addr}: no reply within {} ms",
                    self.timeout.as_millis()
                )));
            }
        }
        if self.mode == Mode::Plain {
            return Ok(());
        }
        // WAIT blocks for up to half the budget; the reply must still come
        // within the whole budget.
        let wait_ms = (self.timeout.as_millis() / 2).max(1) as u64;
        let wait = within(
            deadline,
            redis::cmd("WAIT")
                .arg(1)
                .arg(wait_ms)
                .query_async::<i64>(&mut conn),
        )
        .await;
        match wait {
            Some(Ok(n)) if n >= 1 => Ok(()),
            Some(Ok(n)) => Err(RequestError::Indeterminate(format!(
                "SADD on {addr} acknowledged by {n} replicas within {wait_ms} ms (asked 1): on the primary alone"
            ))),
            Some(Err(err)) => {
                self.forget().await;
                Err(RequestError::Indeterminate(format!(
                    "WAIT after SADD on {addr}: {err}"
                )))
            }
            None => {
                self.forget().await;
                Err(RequestError::Indeterminate(format!(
                    "WAIT after SADD on {addr}: no reply in time"
                )))
            }
        }
    }

    /// Reads every key's members on the primary, merged and sorted.
    pub async fn read_all(&self) -> Result<Vec<i64>, RequestError> {
        let deadline = Instant::now() + self.timeout;
        let (addr, mut conn) = self.primary(deadline).await?;
        let mut pipe = redis::pipe();
        for k in 0..self.keys {
            pipe.cmd("SMEMBERS").arg(format!("set-{k}"));
        }
        let reply: Option<redis::RedisResult<Vec<Vec<i64>>>> =
            within(deadline, pipe.query_async(&mut conn)).await;
        match reply {
            Some(Ok(sets)) => Ok(sets
                .into_iter()
                .flatten()
                .collect::<BTreeSet<i64>>()
                .into_iter()
                .collect()),
            Some(Err(e)) => {
                self.forget().await;
                Err(definite(&format!("SMEMBERS on {addr}"), e))
            }
            None => {
                self.forget().await;
                Err(RequestError::Indeterminate(format!(
                    "SMEMBERS on {addr}: no reply in time"
                )))
            }
        }
    }
}

#[async_trait::async_trait]
impl Client for RedisSetClient {
    async fn invoke(&self, op: &Invocation) -> Completion {
        match op.f.as_str() {
            "add" => {
                let Some(e) = op.value.as_i64() else {
                    return Completion::fail(op.value.clone(), "add needs an integer");
                };
                Completion::of_write(op.value.clone(), self.add(e).await)
            }
            "read" => Completion::of_read(Value::Null, self.read_all().await.map(|v| json!(v))),
            other => Completion::fail(op.value.clone(), format!("set has no op {other:?}")),
        }
    }
}

/// Reads one node's own `redis-server` (primary or replica), with no
/// discovery: what that replica holds, for the convergence checker.
pub struct RedisLocalReader {
    server: SocketAddr,
    nodes: Vec<String>,
    timeout: Duration,
}

impl RedisLocalReader {
    /// A reader of the server at `server`; every key is held by all of
    /// `nodes` (each Redis server holds the whole data set).
    pub fn new(server: SocketAddr, nodes: Vec<String>, timeout: Duration) -> Self {
        RedisLocalReader {
            server,
            nodes,
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl LocalRead for RedisLocalReader {
    async fn preflist(&self, _key: &str) -> Result<Vec<String>, RequestError> {
        Ok(self.nodes.clone())
    }

    /// The key's sorted members on this server, `null` when it has none
    /// (Redis keeps no empty set).
    async fn read_local(&self, key: &str) -> Result<Value, RequestError> {
        let deadline = Instant::now() + self.timeout;
        let mut conn = connect(self.server, deadline)
            .await
            .map_err(|e| definite(&format!("connecting to {}", self.server), e))?;
        let members: Vec<i64> = match within(
            deadline,
            redis::cmd("SMEMBERS").arg(key).query_async(&mut conn),
        )
        .await
        {
            Some(r) => r.map_err(|e| definite(&format!("SMEMBERS {key} on {}", self.server), e))?,
            None => {
                return Err(RequestError::Indeterminate(format!(
                    "SMEMBERS {key} on {}: no reply in time",
                    self.server
                )))
            }
        };
        let sorted: BTreeSet<i64> = members.into_iter().collect();
        Ok(if sorted.is_empty() {
            Value::Null
        } else {
            json!(sorted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_reject_unknown() {
        assert_eq!(Mode::parse("plain").unwrap(), Mode::Plain);
        assert_eq!(Mode::parse("wait").unwrap().name(), "wait");
        let e = Mode::parse("crdt").unwrap_err().to_string();
        assert!(e.contains("plain, wait"), "{e}");
    }

    #[tokio::test]
    async fn no_sentinel_answering_is_a_definite_failure() {
        // Nothing listens on port 1 of loopback: refused before sending.
        let c = RedisSetClient::new(
            vec!["127.0.0.1:1".parse().unwrap()],
            MASTER_NAME,
            Mode::Plain,
            3,
            Duration::from_millis(500),
        );
        let done = c
            .invoke(&Invocation {
                f: "add".into(),
                value: json!(4),
            })
            .await;
        assert_eq!(done.kind, checkers::OpType::Fail, "{done:?}");
        assert!(
            done.error.as_deref().unwrap().contains("no primary known"),
            "{done:?}"
        );
        let read = c.invoke(&crate::set::Generator::final_read()).await;
        assert_eq!(read.kind, checkers::OpType::Fail);
        assert_eq!(read.value, Value::Null);
    }
}
