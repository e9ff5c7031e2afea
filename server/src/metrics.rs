//! The server's figures, for Prometheus: `/metrics` in its text format (the
//! `prometheus` crate), served only on `--metrics-addr` (a separate listener,
//! not public), with `/healthz` and `/readyz` on the main one for load
//! balancers.
//!
//! One process-wide registry: counters are bumped where things happen (a
//! relaxed atomic each, once per batch or broadcast, never per member), and
//! the gauges (connections, rooms) are read from the server's state when
//! scraped.

use std::sync::LazyLock;

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub connections: IntGauge,
    pub rooms: IntGauge,
    pub members: IntGauge,
    /// Messages stored (not retries).
    pub messages_in: IntCounter,
    /// Events delivered to members (one per event per member connection).
    pub deliveries: IntCounter,
    pub commit_seconds: Histogram,
    pub batch_size: Histogram,
    /// How long a commit waited for more posts before it started (pacing).
    pub commit_holds: Histogram,
    /// How long each batch of the search indexer (SQLite) held the write
    /// connection: commits of messages wait meanwhile.
    pub search_index_seconds: Histogram,
    /// Batches of the search indexer that failed (each is retried a second later).
    pub search_index_failures: IntCounter,
    /// Pages in SQLite's write-ahead log at the last checkpoint pass.
    pub sqlite_log_frames: IntGauge,
    /// Members that fell behind and caught up from the store.
    pub lag_catch_ups: IntCounter,
    /// Events read from the store to fill a gap the bus left (several processes).
    pub gap_repairs: IntCounter,
    /// Refusals by kind: `rate_limited`, `slow_mode`, `account_cap`, `address_cap`.
    pub refusals: IntCounterVec,
    /// Web Push sends by outcome: `sent`, `gone`, `failed`.
    pub push_sends: IntCounterVec,
    /// Bots' outgoing webhook deliveries, by outcome (answered, refused, failed).
    pub bot_notices: IntCounterVec,
    /// Messages posted through the HTTP API and incoming webhooks, by way (api, webhook).
    pub api_posts: IntCounterVec,
}

/// The process's figures.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("a valid gauge");
            registry.register(Box::new(gauge.clone())).expect("registered once");
            gauge
        };
        let counter = |name: &str, help: &str| {
            let counter = IntCounter::new(name, help).expect("a valid counter");
            registry.register(Box::new(counter.clone())).expect("registered once");
            counter
        };
        let counters = |name: &str, help: &str, label: &str| {
            let counters = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid counters");
            registry.register(Box::new(counters.clone())).expect("registered once");
            counters
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let histogram = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid");
            registry.register(Box::new(histogram.clone())).expect("registered once");
            histogram
        };
        Metrics {
            connections: gauge("chat_connections", "Open WebSockets."),
            rooms: gauge("chat_rooms", "Rooms with members connected to this process."),
            members: gauge("chat_members", "People and readers in the rooms of this process."),
            messages_in: counter("chat_messages_stored_total", "Messages stored (retries not counted)."),
            deliveries: counter("chat_deliveries_total", "Events sent to members, one per member connection."),
            commit_seconds: histogram(
                "chat_commit_seconds",
                "Time to store one batch of posted messages.",
                prometheus::exponential_buckets(0.0005, 2.0, 14).expect("valid buckets"),
            ),
            batch_size: histogram(
                "chat_commit_batch_size",
                "Messages stored per commit.",
                prometheus::exponential_buckets(1.0, 2.0, 10).expect("valid buckets"),
            ),
            commit_holds: histogram(
                "chat_commit_hold_seconds",
                "Time a commit waited for more posts before it started (only commits that waited).",
                prometheus::exponential_buckets(0.0005, 2.0, 6).expect("valid buckets"),
            ),
            search_index_seconds: histogram(
                "chat_search_index_seconds",
                "Time one batch of the search indexer held the database's write connection (SQLite).",
                prometheus::exponential_buckets(0.0005, 2.0, 12).expect("valid buckets"),
            ),
            search_index_failures: counter(
                "chat_search_index_failures_total",
                "Batches of the search indexer that failed (SQLite; each is retried a second later).",
            ),
            sqlite_log_frames: gauge(
                "chat_sqlite_log_frames",
                "Pages in SQLite's write-ahead log at the last checkpoint pass (it starts over past a limit).",
            ),
            lag_catch_ups: counter(
                "chat_lag_catch_ups_total",
                "Members that fell behind and caught up from the store.",
            ),
            gap_repairs: counter(
                "chat_gap_repairs_total",
                "Events read from the store because the bus between processes lost them.",
            ),
            refusals: counters("chat_refusals_total", "Requests refused by a limit, by kind.", "kind"),
            push_sends: counters("chat_push_sends_total", "Web Push sends, by outcome.", "outcome"),
            bot_notices: counters(
                "chat_bot_notices_total",
                "Bots' outgoing webhook deliveries, by outcome.",
                "outcome",
            ),
            api_posts: counters("chat_api_posts_total", "Messages posted through the HTTP API, by way.", "way"),
            registry,
        }
    }

    /// Everything, in Prometheus's text format, with the gauges read from `state`.
    pub fn render(&self, state: &crate::state::AppState) -> String {
        self.connections.set(state.caps.open_total() as i64);
        self.rooms.set(state.hub.room_count() as i64);
        self.members.set(state.hub.member_total() as i64);
        let mut out = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
