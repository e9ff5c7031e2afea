//! Keeps password hashing from inflating the server's memory for good.
//!
//! glibc raises its mmap threshold to the size of the largest block freed, so after
//! the first password hash (19 MiB of argon2 memory) those blocks come from the
//! per-thread arenas and stay resident on every blocking thread that ever hashed:
//! measured on the release build, 13 MB after start grew to 150 MB after eight
//! sign-ups. A fixed 1 MiB threshold keeps large blocks mmapped, so they go back to
//! the system when freed (13.1 MB after the same eight).

/// Call once, at start.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets an allocator parameter; it takes the allocator's
    // own lock and has no memory-safety preconditions.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Gives freed memory back after a crowd leaves.
///
/// Thousands of sockets closing free their buffers into glibc's arenas, which
/// keep them: measured on the release build, 2,000 signed-in members who left
/// took the server from 15 MiB to 60 MiB for good. So each time the sockets
/// open fall to half of their peak since the last trim, and when the last one
/// closes, the socket that makes it so asks glibc to return what it holds
/// free (`malloc_trim`, a few milliseconds): 10,000 leaving make 9 trims.
/// Measured with `loadgen idle` (10,000 readers in 100 rooms, then all gone),
/// the server's RSS over what it was before they came: one trim at the first
/// halving, +62-65%; at each halving, +28-30%; and at the last, +10-11%.
/// No task: the socket that ends does it.
pub struct SocketMemory(());

/// A peak smaller than this is not worth a trim.
const TRIM_FROM: usize = 64;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl SocketMemory {
    /// Counts a socket until the returned value is dropped.
    pub fn track() -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let live = LIVE.fetch_add(1, Relaxed) + 1;
        PEAK.fetch_max(live, Relaxed);
        SocketMemory(())
    }
}

impl Drop for SocketMemory {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        let live = LIVE.fetch_sub(1, Relaxed) - 1;
        let peak = PEAK.load(Relaxed);
        // At each halving of a crowd; and when the last one leaves.
        let halved = peak >= TRIM_FROM && live <= peak / 2;
        let emptied = live == 0 && peak > 0;
        if (halved || emptied) && PEAK.compare_exchange(peak, live, Relaxed, Relaxed).is_ok() {
            let started = std::time::Instant::now();
            trim();
            tracing::debug!(peak, live, took = ?started.elapsed(), "freed memory given back");
        }
    }
}

fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator's own
    // arenas, under their locks; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
