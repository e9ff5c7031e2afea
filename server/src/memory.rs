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
