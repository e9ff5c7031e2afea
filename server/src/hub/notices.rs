//! The task that sends rooms' presence notices, owned by the hub: a change of
//! who is here marks its room, and a few times a second the task sends each
//! marked room one notice of everything that changed in it meanwhile.
//! [`Notices::close`] ends it. With a bus, each marked room's changes here
//! also go to the other processes (`presence::shared`) with the same round.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::presence::shared::SharedPresence;
use super::Room;

/// How long changes gather before their notice goes out.
pub const NOTICE_PACE: Duration = Duration::from_millis(400);

pub(super) struct Notices {
    shared: Arc<Shared>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Shared {
    marked: Mutex<Vec<Weak<Room>>>,
    wake: Notify,
    /// With a bus: where each round's rooms report their changes here.
    reports: std::sync::OnceLock<SharedPresence>,
}

/// Marks rooms for the next round (for the relay, which hears other
/// processes' changes). Cheap to clone.
#[derive(Clone)]
pub(super) struct Marker(Arc<Shared>);

impl Marker {
    pub(super) fn mark(&self, room: &Arc<Room>) {
        if room.mark_for_notice() {
            self.0.marked.lock().unwrap_or_else(PoisonError::into_inner).push(Arc::downgrade(room));
            self.0.wake.notify_one();
        }
    }
}

impl Notices {
    pub(super) fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(shared.clone(), stop.clone()));
        Notices { shared, stop, task: Mutex::new(Some(task)) }
    }

    /// Sends `room`'s notice with the next round (once, however often marked).
    pub(super) fn mark(&self, room: &Arc<Room>) {
        self.marker().mark(room);
    }

    pub(super) fn marker(&self) -> Marker {
        Marker(self.shared.clone())
    }

    /// With a bus: each round's rooms report their changes here to the others.
    pub(super) fn report_to(&self, shared: SharedPresence) {
        if self.shared.reports.set(shared).is_err() {
            tracing::warn!("presence reports were given a second destination; the first stays");
        }
    }

    pub(super) async fn close(&self) {
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::error!(%error, "the presence notice task failed");
            }
        }
    }
}

async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = shared.wake.notified() => {}
            () = stop.cancelled() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(NOTICE_PACE) => {}
            () = stop.cancelled() => return,
        }
        let marked = std::mem::take(&mut *shared.marked.lock().unwrap_or_else(PoisonError::into_inner));
        // A room gone meanwhile has nobody left to tell.
        for room in marked.iter().filter_map(Weak::upgrade) {
            room.send_notice();
            if let Some(reports) = shared.reports.get() {
                reports.report(&room);
            }
        }
    }
}
