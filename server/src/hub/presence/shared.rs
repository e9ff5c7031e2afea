//! Presence across server processes (with a bus): who is in a room on the
//! others, and a process that died taking its people with it within the TTL.
//!
//! Each process keeps, for each room it has people in, its own [`Report`] in
//! Redis: a hash `presence:<room>:<process>` (username → display name and
//! away, and the report's version and readers), expiring after the TTL unless
//! refreshed. Each change among its people here goes, a few times a second
//! at most (with the room's presence notice), into that hash and onto the
//! room's channel as one transaction, so a receiver that finds a report
//! missing reads a hash at least as new. Processes refresh their liveness in
//! a sorted set `presence:nodes` scored by expiry every third of the TTL; a
//! process missing from it is forgotten everywhere (a clean stop says so at
//! once). A room new here reads every live process's hash for it once.
//!
//! Nothing costs per pair of people: a join is one hash field written and one
//! entry per other process that hears it; a process's reports are read whole
//! only when one was lost. The task here is the only one talking to Redis for
//! presence, owns its connection, and ends with [`SharedPresence::close`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use app::room_name::RoomName;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::link::{epoch_millis, parse, Link, PATIENCE};
use super::{Heard, Report};
use crate::bus::Bus;
use crate::hub::notices::Marker;
use crate::hub::{Registry, Room};

/// How long a report lasts in Redis without being refreshed: a process that
/// dies takes its people out of every room within it (and a third more).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// How soon a write that failed is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// What the task is asked.
#[derive(Debug)]
enum Ask {
    /// The room's changes here, for the others.
    Report(Weak<Room>),
    /// A room new here: read every other process's report of it.
    Load(RoomName),
    /// A report of that process did not follow the last: read its whole.
    Resync(RoomName, u64),
    /// Nobody is in the room here any more.
    Emptied(RoomName),
    /// The bus was away: read every room again, write every report whole.
    Reload,
}

/// This process's end of shared presence. Cheap to clone.
#[derive(Clone)]
pub struct SharedPresence {
    inner: Arc<Inner>,
}

struct Inner {
    asks: mpsc::UnboundedSender<Ask>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SharedPresence {
    pub(in crate::hub) fn start(bus: Bus, registry: Registry, marker: Marker, ttl: Duration) -> Self {
        let (asks, asked) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let task = Task {
            node: bus.id(),
            nodes_key: bus.key("presence:nodes"),
            bus,
            registry,
            marker,
            ttl,
            link: Link::default(),
            next_version: 0,
            versions: HashMap::new(),
            rewrite: HashSet::new(),
            pending_empty: HashSet::new(),
            pending_loads: HashSet::new(),
            forgot_all: false,
            live_at: None,
            beaten: false,
        };
        let handle = tokio::spawn(task.run(asked, stop.clone()));
        SharedPresence { inner: Arc::new(Inner { asks, stop, task: Mutex::new(Some(handle)) }) }
    }

    /// Reports the room's changes here (once, however often asked before the task gets to it).
    pub(in crate::hub) fn report(&self, room: &Arc<Room>) {
        if room.mark_for_report() {
            self.ask(Ask::Report(Arc::downgrade(room)));
        }
    }

    pub(in crate::hub) fn load(&self, room: &RoomName) {
        self.ask(Ask::Load(room.clone()));
    }

    pub(in crate::hub) fn resync(&self, room: &RoomName, node: u64) {
        self.ask(Ask::Resync(room.clone(), node));
    }

    pub(in crate::hub) fn emptied(&self, room: &RoomName) {
        self.ask(Ask::Emptied(room.clone()));
    }

    pub(in crate::hub) fn reload(&self) {
        self.ask(Ask::Reload);
    }

    fn ask(&self, ask: Ask) {
        // Err: the task ended (closing); nothing is left to tell.
        let _ = self.inner.asks.send(ask);
    }

    /// Ends the task: rooms emptied before are taken off, then this process
    /// is taken out of every room it still reports (a moment at most).
    pub(in crate::hub) async fn close(&self) {
        self.inner.stop.cancel();
        let task = self.inner.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the shared presence task failed");
            }
        }
    }
}

struct Task {
    bus: Bus,
    node: u64,
    nodes_key: String,
    registry: Registry,
    marker: Marker,
    ttl: Duration,
    link: Link,
    next_version: u64,
    /// The last report published, by room with people here.
    versions: HashMap<RoomName, u64>,
    /// Rooms whose next report must be whole (a write failed, or Redis lost it).
    rewrite: HashSet<RoomName>,
    /// Rooms emptied here whose announcement failed (tried again).
    pending_empty: HashSet<RoomName>,
    /// Reads that failed: rooms to read again (all live processes, or one).
    pending_loads: HashSet<(RoomName, Option<u64>)>,
    /// The others were all forgotten (Redis away too long): read every room
    /// again once it answers.
    forgot_all: bool,
    /// When the live processes were last read.
    live_at: Option<Instant>,
    /// This process's liveness was written once.
    beaten: bool,
}

impl Task {
    async fn run(mut self, mut asked: mpsc::UnboundedReceiver<Ask>, stop: CancellationToken) {
        let mut beat = tokio::time::interval(self.ttl / 3);
        let mut retry = tokio::time::interval(RETRY);
        for timer in [&mut beat, &mut retry] {
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                ask = asked.recv() => {
                    let Some(ask) = ask else { break };
                    let mut asks = vec![ask];
                    while let Ok(more) = asked.try_recv() {
                        asks.push(more);
                    }
                    self.serve(asks).await;
                }
                _ = beat.tick() => self.beat().await,
                _ = retry.tick(), if self.has_retries() => self.retry().await,
            }
        }
        // What was still asked is moot: goodbye takes this process out of
        // every room it reported (emptied ones included).
        asked.close();
        if tokio::time::timeout(PATIENCE * 2, self.goodbye()).await.is_err() {
            tracing::warn!(
                "Redis did not answer in time: this process's people stay shown elsewhere until they expire"
            );
        }
    }

    async fn serve(&mut self, asks: Vec<Ask>) {
        let mut reports = Vec::new();
        let mut emptied = Vec::new();
        let mut loads = Vec::new();
        let mut resyncs = HashSet::new();
        for ask in asks {
            match ask {
                Ask::Report(room) => {
                    if let Some(room) = room.upgrade() {
                        room.unmark_for_report();
                        reports.push(room);
                    }
                }
                Ask::Emptied(room) => emptied.push(room),
                Ask::Load(room) => loads.push(room),
                Ask::Resync(room, node) => {
                    resyncs.insert((room, node));
                }
                Ask::Reload => {
                    loads.extend(self.registry().keys().cloned());
                    self.rewrite.extend(self.versions.keys().cloned());
                }
            }
        }
        if !emptied.is_empty() {
            self.empty(emptied, false).await;
        }
        if !self.link.is_down() {
            let rewrites: Vec<Arc<Room>> = self.rewrite.iter().filter_map(|name| self.room(name)).collect();
            reports.extend(rewrites);
        }
        if !reports.is_empty() {
            self.report(reports).await;
        }
        if !loads.is_empty() {
            // What is published from now on comes here: read after that.
            self.bus.settled(PATIENCE).await;
            self.load(loads, None).await;
        }
        for (room, node) in resyncs {
            self.load(vec![room], Some(node)).await;
        }
    }

    /// Writes and publishes the rooms' changes here, in one transaction.
    async fn report(&mut self, rooms: Vec<Arc<Room>>) {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut written = Vec::new();
        for room in rooms {
            let name = room.name().clone();
            // Only the registry's room speaks for the name (an older one may linger).
            if !self.registry().get(&name).is_some_and(|live| Arc::ptr_eq(live, &room)) {
                continue;
            }
            let prev = self.versions.get(&name).copied();
            let full = prev.is_none() || self.rewrite.contains(&name);
            let Some((set, gone, readers)) = room.take_report(full) else { continue };
            self.next_version += 1;
            let report =
                Report { node: self.node, v: self.next_version, prev: prev.unwrap_or(0), full, set, gone, readers };
            self.write(&mut pipe, &name, &report);
            written.push((name, report.v));
        }
        if written.is_empty() {
            return;
        }
        match self.query::<()>(&pipe).await {
            Ok(()) => {
                for (name, v) in written {
                    self.rewrite.remove(&name);
                    self.versions.insert(name, v);
                }
            }
            Err(error) => {
                tracing::warn!(%error, rooms = written.len(), "writing presence to Redis failed; trying again whole");
                self.rewrite.extend(written.into_iter().map(|(name, _)| name));
            }
        }
    }

    /// The commands that write `report` of `room` and tell it on its channel.
    fn write(&self, pipe: &mut redis::Pipeline, room: &RoomName, report: &Report) {
        let key = self.key(room, self.node);
        if report.full {
            pipe.del(&key).ignore();
        }
        for (username, display_name, away) in &report.set {
            pipe.hset(&key, username, serde_json::json!([display_name, away]).to_string()).ignore();
        }
        if !report.gone.is_empty() {
            pipe.hdel(&key, &report.gone).ignore();
        }
        pipe.hset_multiple(&key, &[("~v", report.v), ("~readers", u64::from(report.readers))]).ignore();
        pipe.pexpire(&key, self.ttl.as_millis() as i64).ignore();
        let payload = super::super::relay::encode_report(room, report);
        pipe.publish(self.bus.key(&super::super::relay::channel(room)), self.bus.framed(&payload)).ignore();
    }

    /// Rooms nobody is in here any more: their reports deleted, and the
    /// others told (a whole report of nobody).
    /// Announced whether or not a report of the room was known to be
    /// written (one may have landed though its answer was lost); one that
    /// fails is tried again, and a room with people here again meanwhile is
    /// written whole instead.
    /// `leaving`: this process stops, and every room is empty of it.
    async fn empty(&mut self, rooms: Vec<RoomName>, leaving: bool) {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut emptied = Vec::new();
        for room in rooms {
            if !leaving && self.room(&room).is_some() {
                // Not empty any more: its next report is whole (it replaces the hash).
                self.pending_empty.remove(&room);
                self.rewrite.insert(room);
                continue;
            }
            self.rewrite.remove(&room);
            let prev = self.versions.remove(&room).unwrap_or(0);
            self.next_version += 1;
            let report = Report { node: self.node, v: self.next_version, prev, full: true, ..Report::default() };
            self.write(&mut pipe, &room, &report);
            pipe.del(self.key(&room, self.node)).ignore();
            emptied.push(room);
        }
        if emptied.is_empty() {
            return;
        }
        match self.query::<()>(&pipe).await {
            Ok(()) => {
                for room in &emptied {
                    self.pending_empty.remove(room);
                }
            }
            Err(error) => {
                tracing::warn!(%error, rooms = emptied.len(), "taking emptied rooms' presence off Redis failed; trying again");
                self.pending_empty.extend(emptied);
            }
        }
    }

    /// Reads the reports of `rooms` here by every live process (or by `only`) and applies them.
    async fn load(&mut self, rooms: Vec<RoomName>, only: Option<u64>) {
        let nodes = match only {
            Some(node) => vec![node],
            None => match self.live().await {
                Some(live) => live.into_iter().filter(|&node| node != self.node).collect(),
                None => {
                    self.pending_loads.extend(rooms.into_iter().map(|room| (room, None)));
                    return;
                }
            },
        };
        if nodes.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        let mut asked = Vec::new();
        for room in &rooms {
            for &node in &nodes {
                pipe.hgetall(self.key(room, node));
                asked.push((room, node));
            }
        }
        // What was known of each before the read: a report heard meanwhile
        // is newer than a hash found missing.
        let known: Vec<Option<u64>> =
            asked.iter().map(|(name, node)| self.room(name).and_then(|room| room.presence_version(*node))).collect();
        let hashes: Vec<HashMap<String, String>> = match self.query(&pipe).await {
            Ok(hashes) => hashes,
            Err(error) => {
                tracing::warn!(%error, rooms = rooms.len(), "reading presence from Redis failed; trying again");
                self.pending_loads.extend(rooms.iter().map(|room| (room.clone(), only)));
                return;
            }
        };
        for (((name, node), hash), known) in asked.into_iter().zip(hashes).zip(known) {
            let Some(room) = self.room(name) else { continue };
            let changed = match parse(node, hash) {
                None if room.presence_version(node) == known => room.forget_node(node),
                None => false,
                Some(report) => room.heard_report(report) == Heard::Applied,
            };
            if changed {
                self.marker.mark(&room);
            }
        }
    }

    /// Writes this process's liveness and refreshes its reports; forgets the
    /// processes that are no longer live.
    async fn beat(&mut self) {
        let now = epoch_millis();
        let mut pipe = redis::pipe();
        pipe.zadd(&self.nodes_key, self.node, now + self.ttl.as_millis() as u64);
        pipe.zrembyscore(&self.nodes_key, "-inf", now).ignore();
        pipe.zrangebyscore(&self.nodes_key, now, "+inf");
        for room in self.versions.keys() {
            pipe.pexpire(self.key(room, self.node), self.ttl.as_millis() as i64).ignore();
        }
        let (added, live): (u64, Vec<u64>) = match self.query(&pipe).await {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(%error, "refreshing presence on Redis failed");
                // Nobody could be seen alive for a whole TTL: none is shown.
                if self.live_at.is_none_or(|at| at.elapsed() > self.ttl) {
                    self.forget_all_but(&HashSet::new());
                    self.forgot_all = true;
                }
                return;
            }
        };
        if added == 1 && self.beaten {
            // Redis lost what this process wrote (it restarted empty).
            tracing::info!("Redis had lost this process's presence: writing it again");
            self.rewrite.extend(self.versions.keys().cloned());
        }
        self.beaten = true;
        self.live_at = Some(Instant::now());
        if std::mem::take(&mut self.forgot_all) {
            let rooms: Vec<RoomName> = self.registry().keys().cloned().collect();
            self.pending_loads.extend(rooms.into_iter().map(|room| (room, None)));
        }
        self.forget_all_but(&live.into_iter().collect());
    }

    /// The processes alive now, as Redis has them.
    async fn live(&mut self) -> Option<Vec<u64>> {
        let mut pipe = redis::pipe();
        pipe.zrangebyscore(&self.nodes_key, epoch_millis(), "+inf");
        match self.query::<(Vec<u64>,)>(&pipe).await {
            Ok((live,)) => Some(live),
            Err(error) => {
                tracing::warn!(%error, "reading the live processes from Redis failed");
                None
            }
        }
    }

    fn forget_all_but(&self, live: &HashSet<u64>) {
        let rooms: Vec<Arc<Room>> = self.registry().values().cloned().collect();
        for room in rooms {
            let mut changed = false;
            for node in room.presence_nodes() {
                if !live.contains(&node) {
                    changed |= room.forget_node(node);
                }
            }
            if changed {
                self.marker.mark(&room);
            }
        }
    }

    /// A clean stop: this process out of the live set and of every room it reported.
    async fn goodbye(&mut self) {
        // A failure a moment ago must not cost the goodbye.
        self.link.forgive();
        let mut rooms: Vec<RoomName> = self.versions.keys().cloned().collect();
        rooms.extend(self.pending_empty.drain());
        self.empty(rooms, true).await;
        self.link.forgive();
        let mut pipe = redis::pipe();
        pipe.zrem(&self.nodes_key, self.node).ignore();
        if let Err(error) = self.query::<()>(&pipe).await {
            tracing::warn!(%error, "taking this process off Redis's live set failed");
        }
    }

    fn has_retries(&self) -> bool {
        !self.rewrite.is_empty() || !self.pending_empty.is_empty() || !self.pending_loads.is_empty()
    }

    /// What failed, tried again (while Redis is not known to be down).
    async fn retry(&mut self) {
        if self.link.is_down() {
            return;
        }
        if !self.pending_empty.is_empty() {
            let rooms: Vec<RoomName> = self.pending_empty.iter().cloned().collect();
            self.empty(rooms, false).await;
        }
        if !self.rewrite.is_empty() {
            let rooms: Vec<RoomName> = self.rewrite.iter().cloned().collect();
            self.report(rooms.iter().filter_map(|name| self.room(name)).collect()).await;
        }
        let loads: Vec<(RoomName, Option<u64>)> = self.pending_loads.drain().collect();
        let (all, one): (Vec<_>, Vec<_>) = loads.into_iter().partition(|(_, node)| node.is_none());
        if !all.is_empty() {
            self.load(all.into_iter().map(|(room, _)| room).collect(), None).await;
        }
        for (room, node) in one {
            self.load(vec![room], node).await;
        }
    }

    async fn query<T: redis::FromRedisValue>(&mut self, pipe: &redis::Pipeline) -> redis::RedisResult<T> {
        self.link.query(&self.bus, pipe).await
    }

    fn key(&self, room: &RoomName, node: u64) -> String {
        self.bus.key(&format!("presence:{room}:{node}"))
    }

    fn room(&self, name: &RoomName) -> Option<Arc<Room>> {
        self.registry().get(name).cloned()
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<RoomName, Arc<Room>>> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
