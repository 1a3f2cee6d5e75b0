//! The public HTTP/JSON API that faultline's client speaks.
//!
//! | route | purpose |
//! | --- | --- |
//! | `GET /health` | liveness: `{"node": name}` |
//! | `PUT /kv/{key}?w=W&client=C` | register write, body `{"value": any, "context": ctx}` (context: sibling modes) |
//! | `GET /kv/{key}?r=R` | register quorum read: the value, or 300 with `siblings`; with the `context` |
//! | `POST /set/{key}?w=W` | grow-only set add, body `{"element": i64}` |
//! | `GET /set/{key}?r=R` | grow-only set quorum read (union) |
//! | `GET/PUT /cas/{key}`, `POST` | linearizable register (Paxos): read, write, compare-and-set `{"expected": e, "value": v}` (409 on mismatch); reads and writes report the `version` (ballot) of the value |
//! | `POST /counter/{key}` / `GET` | PN-counter: body `{"delta": n}`; read `{"value": n}` |
//! | `POST /orset/{key}` / `GET` | OR-set (add wins): `{"add": v}` or `{"remove": v}`; read `{"elements": [..]}` |
//! | `POST /seq/{key}` / `GET` | sequence (RGA): `{"insert": v, "at": i}`, `{"insert": v, "after": w}` (right after the element holding `w`), `{"delete": i}` or `{"remove": v}` (the elements holding `v`; 409 when none is held); read `{"items": [..]}` |
//! | `GET /admin/local/{kind}/{key}` | this node's own replica, uncoordinated |
//! | `GET /admin/preflist/{key}` | the key's preference list |
//! | `GET /admin/status` | node, membership and liveness, ring, N/R/W, local key counts, handoff, wall clock and uptime |
//! | `POST /admin/leave` | leave the ring, handing data off to the new owners |
//! | `POST /admin/join` | join the ring again |
//!
//! Every error body is JSON with an `"error"` field. The exact shapes are
//! documented in the crate README.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::coordinator::{CasOutcome, Need};
use crate::crdt::CrdtOp;
use crate::versioning::{Mode, Object, VersionVector};
use serde_json::json;
use tracing::debug;

use crate::coordinator::{CoordError, Coordinator, QuorumKind};
use crate::storage::{GSet, Kind, LwwValue};

/// An error reply of the public API, rendered as a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed body, path or query, or R/W out of range.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 409: the update names something the store does not hold (a
    /// sequence element); nothing was changed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 404: no replica consulted holds the key.
    #[error("not found")]
    NotFound,
    /// 503: the read or write quorum was not reached in time.
    #[error(transparent)]
    Unavailable(CoordError),
}

impl From<CoordError> for ApiError {
    fn from(e: CoordError) -> Self {
        match e {
            CoordError::BadQuorum { .. } | CoordError::WrongType => {
                ApiError::BadRequest(e.to_string())
            }
            CoordError::Quorum { .. } => ApiError::Unavailable(e),
            CoordError::NoSuchElement(_) => ApiError::Conflict(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest(msg) => (StatusCode::BAD_REQUEST, json!({ "error": msg })),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({ "error": "not_found" })),
            ApiError::Conflict(msg) => (
                StatusCode::CONFLICT,
                json!({ "error": "no_such_element", "detail": msg }),
            ),
            ApiError::Unavailable(CoordError::Quorum { kind, needed, got }) => {
                let count_field = match kind {
                    QuorumKind::Write => "acks",
                    QuorumKind::Read => "replies",
                };
                debug!(%self, "replying 503");
                let mut body = json!({ "error": "quorum", "needed": needed });
                body[count_field] = json!(got);
                (StatusCode::SERVICE_UNAVAILABLE, body)
            }
            ApiError::Unavailable(other) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": other.to_string() }),
            ),
        };
        (status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;
type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// Builds the public router (health, kv, set, admin).
pub fn router(state: Arc<Coordinator>) -> Router {
    STARTED.get_or_init(Instant::now);
    Router::new()
        .route("/health", get(health))
        .route("/kv/{key}", get(get_kv).put(put_kv))
        .route("/set/{key}", get(get_set).post(add_set))
        .route("/cas/{key}", get(get_cas).put(put_cas).post(cas))
        .route("/counter/{key}", get(get_counter).post(update_counter))
        .route("/orset/{key}", get(get_orset).post(update_orset))
        .route("/seq/{key}", get(get_seq).post(update_seq))
        .route("/admin/local/{kind}/{key}", get(admin_local))
        .route("/admin/preflist/{key}", get(admin_preflist))
        .route("/admin/status", get(admin_status))
        .route("/admin/leave", post(admin_leave))
        .route("/admin/join", post(admin_join))
        .fallback(no_route)
        .with_state(state)
}

#[derive(Deserialize)]
struct PutBody {
    value: serde_json::Value,
    /// The causal context of a previous read (sibling modes; ignored
    /// under LWW). Absent: the write supersedes nothing.
    #[serde(default)]
    context: Option<VersionVector>,
}

#[derive(Deserialize)]
struct AddBody {
    element: i64,
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::BadRequest(format!("invalid path: {}", e.body_text())))
}

/// R or W from the query (`r`, `w`), with PR or PW (`pr`, `pw`: how many
/// of those replies must come from the key's primaries; default 0).
fn quorum(coord: &Coordinator, kind: QuorumKind, params: Params) -> Result<Need, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::BadRequest(format!("invalid query: {}", e.body_text())))?;
    let (name, primary) = match kind {
        QuorumKind::Read => ("r", "pr"),
        QuorumKind::Write => ("w", "pw"),
    };
    let total = coord.resolve_quorum(kind, params.get(name).map(String::as_str))?;
    let primaries = match params.get(primary) {
        None => 0,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(p) if p <= total => p,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "{primary} must be an integer in 0..={total} ({name}), got {raw:?}"
                )))
            }
        },
    };
    Ok(Need { total, primaries })
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes, shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid body (expected {shape}): {e}")))
}

fn lww_json(v: &LwwValue) -> serde_json::Value {
    json!({ "value": v.value, "timestamp": v.timestamp, "writer": v.writer })
}

fn set_json(s: &GSet) -> serde_json::Value {
    // BTreeSet iterates in ascending order: the list is sorted.
    json!({ "elements": s.iter().collect::<Vec<_>>() })
}

async fn health(State(coord): State<Arc<Coordinator>>) -> Response {
    Json(json!({ "node": coord.config().node })).into_response()
}

async fn put_kv(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
    bytes: Bytes,
) -> ApiResult {
    let key = path(key)?;
    let client = client_id(&params);
    let w = quorum(&coord, QuorumKind::Write, params)?;
    let PutBody { value, context } = body(
        &bytes,
        r#"{"value": <any JSON>, "context": <context of a read, optional>}"#,
    )?;
    if coord.config().conflict == Mode::Lww {
        let timestamp = coord.put(&key, value, w).await?;
        return Ok(Json(json!({ "timestamp": timestamp })).into_response());
    }
    let object = coord
        .put_object(&key, value, context.unwrap_or_default(), client, w)
        .await?;
    Ok(Json(json!({ "context": object.clock, "siblings": object.siblings.len() })).into_response())
}

/// The `client` query parameter: who writes, for per-client vector clocks.
fn client_id(params: &Params) -> Option<String> {
    params
        .as_ref()
        .ok()
        .and_then(|Query(p)| p.get("client").cloned())
        .filter(|c| !c.is_empty())
}

/// A versioned register as clients see it: one value, or 300 Multiple
/// Choices with every sibling; always with the context to write back.
fn object_response(o: &Object) -> Response {
    if o.siblings.len() == 1 {
        Json(json!({ "value": o.siblings[0].value, "context": o.clock })).into_response()
    } else {
        (
            StatusCode::MULTIPLE_CHOICES,
            Json(json!({ "siblings": o.values(), "context": o.clock })),
        )
            .into_response()
    }
}

async fn get_kv(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    let key = path(key)?;
    let r = quorum(&coord, QuorumKind::Read, params)?;
    if coord.config().conflict != Mode::Lww {
        return match coord.get_object(&key, r).await? {
            Some(o) if !o.siblings.is_empty() => Ok(object_response(&o)),
            _ => Err(ApiError::NotFound),
        };
    }
    match coord.get(&key, r).await? {
        Some(v) => Ok(Json(lww_json(&v)).into_response()),
        None => Err(ApiError::NotFound),
    }
}

async fn add_set(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
    bytes: Bytes,
) -> ApiResult {
    let key = path(key)?;
    let w = quorum(&coord, QuorumKind::Write, params)?;
    let AddBody { element } = body(&bytes, r#"{"element": <i64>}"#)?;
    coord.add(&key, element, w).await?;
    Ok(Json(json!({})).into_response())
}

async fn get_set(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    let key = path(key)?;
    let r = quorum(&coord, QuorumKind::Read, params)?;
    let set = coord.read_set(&key, r).await?;
    Ok(Json(set_json(&set)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasBody {
    expected: serde_json::Value,
    value: serde_json::Value,
}

fn cas_key(key: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    Ok(format!("cas/{}", path(key)?))
}

async fn get_cas(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
) -> ApiResult {
    match coord.paxos(&cas_key(key)?, None, None).await? {
        CasOutcome::Read(value, at) => {
            let version = at.map(|b| coord.ballot_version(&b));
            Ok(Json(json!({ "value": value, "version": version })).into_response())
        }
        other => Err(ApiError::BadRequest(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

async fn put_cas(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult {
    let key = cas_key(key)?;
    let PutBody { value, .. } = body(&bytes, r#"{"value": <any JSON>}"#)?;
    match coord.paxos(&key, None, Some(value)).await? {
        CasOutcome::Written(b) => {
            Ok(Json(json!({ "ok": true, "version": coord.ballot_version(&b) })).into_response())
        }
        other => Err(ApiError::BadRequest(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

async fn cas(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ApiResult {
    let key = cas_key(key)?;
    let CasBody { expected, value } =
        body(&bytes, r#"{"expected": <any JSON>, "value": <any JSON>}"#)?;
    match coord.paxos(&key, Some(expected), Some(value)).await? {
        CasOutcome::Mismatch(current) => Ok((
            StatusCode::CONFLICT,
            Json(json!({ "ok": false, "value": current })),
        )
            .into_response()),
        CasOutcome::Written(b) => {
            Ok(Json(json!({ "ok": true, "version": coord.ballot_version(&b) })).into_response())
        }
        other => Err(ApiError::BadRequest(format!(
            "unexpected outcome {other:?}"
        ))),
    }
}

/// The body of a CRDT update, by type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CounterBody {
    delta: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrSetBody {
    add: Option<serde_json::Value>,
    remove: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeqBody {
    insert: Option<serde_json::Value>,
    at: Option<usize>,
    after: Option<serde_json::Value>,
    delete: Option<usize>,
    remove: Option<serde_json::Value>,
}

async fn crdt_update(
    coord: &Coordinator,
    kind: &str,
    key: Result<Path<String>, PathRejection>,
    params: Params,
    change: CrdtOp,
) -> ApiResult {
    let key = path(key)?;
    let w = quorum(coord, QuorumKind::Write, params)?;
    let state = coord
        .update_crdt(&format!("{kind}/{key}"), change, w)
        .await?;
    Ok(Json(state.view()).into_response())
}

async fn crdt_read(
    coord: &Coordinator,
    kind: &str,
    key: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    let key = path(key)?;
    let r = quorum(coord, QuorumKind::Read, params)?;
    match coord.read_crdt(&format!("{kind}/{key}"), r).await? {
        Some(state) => Ok(Json(state.view()).into_response()),
        None => Err(ApiError::NotFound),
    }
}

async fn update_counter(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
    bytes: Bytes,
) -> ApiResult {
    let CounterBody { delta } = body(&bytes, r#"{"delta": <i64>}"#)?;
    crdt_update(&coord, "counter", key, params, CrdtOp::Add { delta }).await
}

async fn get_counter(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    crdt_read(&coord, "counter", key, params).await
}

async fn update_orset(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
    bytes: Bytes,
) -> ApiResult {
    let shape = r#"{"add": <any>} or {"remove": <any>}"#;
    let change = match body::<OrSetBody>(&bytes, shape)? {
        OrSetBody {
            add: Some(element),
            remove: None,
        } => CrdtOp::Insert { element },
        OrSetBody {
            add: None,
            remove: Some(element),
        } => CrdtOp::Remove { element },
        _ => {
            return Err(ApiError::BadRequest(format!(
                "invalid body (expected {shape})"
            )))
        }
    };
    crdt_update(&coord, "orset", key, params, change).await
}

async fn get_orset(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    crdt_read(&coord, "orset", key, params).await
}

async fn update_seq(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
    bytes: Bytes,
) -> ApiResult {
    let shape = r#"{"insert": <any>, "at": <index>}, {"insert": <any>, "after": <value>}, {"delete": <index>} or {"remove": <value>}"#;
    let change = match body::<SeqBody>(&bytes, shape)? {
        SeqBody {
            insert: Some(value),
            at,
            after: None,
            delete: None,
            remove: None,
        } => CrdtOp::SeqInsert {
            at: at.unwrap_or(usize::MAX),
            value,
        },
        SeqBody {
            insert: Some(value),
            at: None,
            after: Some(after),
            delete: None,
            remove: None,
        } => CrdtOp::SeqInsertAfterValue { after, value },
        SeqBody {
            insert: None,
            at: None,
            after: None,
            delete: Some(at),
            remove: None,
        } => CrdtOp::SeqDelete { at },
        SeqBody {
            insert: None,
            at: None,
            after: None,
            delete: None,
            remove: Some(value),
        } => CrdtOp::SeqDeleteValue { value },
        _ => {
            return Err(ApiError::BadRequest(format!(
                "invalid body (expected {shape})"
            )))
        }
    };
    crdt_update(&coord, "seq", key, params, change).await
}

async fn get_seq(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult {
    crdt_read(&coord, "seq", key, params).await
}

async fn admin_local(
    State(coord): State<Arc<Coordinator>>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (kind, key) = path(p)?;
    if kind == "cas" {
        return coord
            .store()
            .paxos_committed(&format!("cas/{key}"))
            .map(|v| Json(json!({ "value": v })).into_response())
            .ok_or(ApiError::NotFound);
    }
    if matches!(kind.as_str(), "counter" | "orset" | "seq") {
        return coord
            .store()
            .read_crdt(&format!("{kind}/{key}"))
            .map(|c| Json(c.view()).into_response())
            .ok_or(ApiError::NotFound);
    }
    let body = match Kind::parse(&kind) {
        Some(Kind::Kv) if coord.config().conflict != Mode::Lww => {
            return coord
                .store()
                .read_object(&key)
                .map(|o| object_response(&o))
                .ok_or(ApiError::NotFound)
        }
        Some(Kind::Kv) => coord.store().read_register(&key).map(|v| lww_json(&v)),
        Some(Kind::Set) => coord.store().read_set(&key).map(|s| set_json(&s)),
        None => {
            return Err(ApiError::BadRequest(format!(
                "unknown kind {kind:?}: expected kv, set, counter, orset or seq"
            )))
        }
    };
    body.map(|b| Json(b).into_response())
        .ok_or(ApiError::NotFound)
}

async fn admin_preflist(
    State(coord): State<Arc<Coordinator>>,
    key: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let key = path(key)?;
    Ok(Json(json!({ "nodes": coord.preference_list(&key) })).into_response())
}

/// When the router was built: the origin of `uptime_ms`, on the monotonic
/// clock, so a harness can tell a skewed wall clock from broken timers.
static STARTED: OnceLock<Instant> = OnceLock::new();

async fn admin_status(State(coord): State<Arc<Coordinator>>) -> Response {
    let c = coord.config();
    let nodes: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    let members: Vec<serde_json::Value> = coord
        .members()
        .into_iter()
        .map(|(m, alive)| {
            json!({"name": m.name, "status": m.status, "version": m.version, "alive": alive})
        })
        .collect();
    let (handed_off, handoff_pending) = coord.handoff_counts();
    Json(json!({
        "node": c.node,
        "nodes": nodes,
        "status": coord.status(),
        "members": members,
        "ring": coord.ring_nodes(),
        "handoff": {"moved": handed_off, "pending": handoff_pending},
        "hints_pending": handoff_pending,
        "read_repairs": coord.read_repair_count(),
        "anti_entropy_repairs": coord.aae_repair_count(),
        "sloppy_quorum": c.sloppy_quorum,
        "n": c.n,
        "r": c.r,
        "w": c.w,
        "conflict": c.conflict,
        "keys": coord.store().counts(),
        "wall_clock_ms": crate::storage::wall_clock_nanos() / 1_000_000,
        "uptime_ms": STARTED.get_or_init(Instant::now).elapsed().as_millis() as u64,
    }))
    .into_response()
}

async fn admin_leave(State(coord): State<Arc<Coordinator>>) -> Response {
    let status = coord.leave().await;
    Json(json!({ "node": coord.config().node, "status": status })).into_response()
}

async fn admin_join(State(coord): State<Arc<Coordinator>>) -> Response {
    let status = coord.join().await;
    Json(json!({ "node": coord.config().node, "status": status })).into_response()
}

async fn no_route(method: Method, uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("no route for {method} {}", uri.path()) })),
    )
        .into_response()
}
