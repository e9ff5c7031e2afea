//! For load balancers and monitoring: `/healthz` (the process answers),
//! `/readyz` (its store answers, and with several processes its bus too), and
//! the router of `--metrics-addr` (`/metrics`, see [`crate::metrics`]).

use std::time::Duration;

use app::room_name::RoomName;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// Longest a readiness probe waits for the store or the bus.
const PROBE_PATIENCE: Duration = Duration::from_secs(2);

pub async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when the store (and the bus, with one) answer within a moment; 503
/// with what did not otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let probe = [RoomName::parse("readyz").expect("a valid room name")];
    let store = tokio::time::timeout(PROBE_PATIENCE, state.hub.store().last_seqs(&probe)).await;
    let store_ready = matches!(store, Ok(Ok(_)));
    let bus = state.hub.bus_reachable(PROBE_PATIENCE).await;
    if store_ready && bus != Some(false) {
        return (StatusCode::OK, "ready\n").into_response();
    }
    let mut missing = Vec::new();
    if !store_ready {
        missing.push("the store does not answer");
    }
    if bus == Some(false) {
        missing.push("the bus (Redis) does not answer");
    }
    tracing::warn!(?missing, "not ready");
    (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", missing.join("; "))).into_response()
}

/// The router served on `--metrics-addr`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = crate::metrics::METRICS.render(&state);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
