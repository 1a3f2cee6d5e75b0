//! The HTTP endpoints a node serves its peers (not its clients: that is
//! [`crate::api`]): replica ops, gossip and anti-entropy, each answered by
//! the node's [`Coordinator`].
//!
//! The messages are [`crate::wire`]'s and [`crate::anti_entropy`]'s; a
//! replica op is applied with [`replica::apply`], as the coordinator does
//! for its own replica.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::anti_entropy::{AaeRequest, AAE_PATH};
use crate::coordinator::Coordinator;
use crate::replica;
use crate::wire::{Gossip, ReplicaOp, GOSSIP_PATH, INTERNAL_OP_PATH};

/// Routes for the internal replica endpoint.
pub fn router(state: Arc<Coordinator>) -> Router {
    Router::new()
        .route(INTERNAL_OP_PATH, post(handle_op))
        .route(GOSSIP_PATH, post(handle_gossip))
        .route(AAE_PATH, post(handle_aae))
        .with_state(state)
}

async fn handle_aae(State(coord): State<Arc<Coordinator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<AaeRequest>(&body) {
        Ok(req) => Json(coord.answer_aae(&req)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("invalid anti-entropy request: {e}") })),
        )
            .into_response(),
    }
}

async fn handle_gossip(State(coord): State<Arc<Coordinator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Gossip>(&body) {
        Ok(msg) => Json(coord.receive_gossip(&msg)).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("invalid gossip: {e}") })),
        )
            .into_response(),
    }
}

async fn handle_op(State(coord): State<Arc<Coordinator>>, body: Bytes) -> Response {
    match serde_json::from_slice::<ReplicaOp>(&body) {
        Ok(op) => {
            let reply = replica::apply(coord.store(), &coord.config().node, &op);
            // Acknowledge only what the fsync policy says must be on disk.
            coord.store().sync().await;
            Json(reply).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": format!("invalid replica op: {e}") })),
        )
            .into_response(),
    }
}
