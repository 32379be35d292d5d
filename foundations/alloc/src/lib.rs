//! The process allocator's settings for batch commands.
//!
//! A batch job allocates and frees large buffers over and over: a 1M × 1M statement match about 400 MB
//! between its passes, an audit replay a whole ledger state. glibc hands large blocks back to the kernel as
//! soon as they are freed (blocks over its mmap threshold are unmapped; the heap top is trimmed), so every
//! pass pays again for fresh, zeroed pages. [`keep_freed_memory`] tells glibc not to map blocks on their
//! own (`M_MMAP_MAX` 0) and to trim its heap only when more than 2 GiB is free at the top
//! (`M_TRIM_THRESHOLD`), so a freed buffer is reused by the next pass instead of being faulted in afresh:
//! −20% on a 1M × 1M match (BENCHMARKS.md, statement matching). Not quite every block: a thread's own
//! arena still maps a request larger than its 64 MiB heap directly.
//!
//! The cost: the process keeps its peak heap until it exits. That suits a batch command, which exits when
//! it is done; `aurum recon match` and `aurum audit` call it, long-running servers (`aurum serve`) do not.
//! The settings are glibc's: a binary that installs another `#[global_allocator]` is not affected by them.

/// Makes the allocator reuse freed memory instead of returning it to the kernel, for the rest of the process.
/// Returns whether the allocator took the settings (always false where the allocator is not glibc's).
pub fn keep_freed_memory() -> bool {
    imp::keep_freed_memory()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    pub(super) fn keep_freed_memory() -> bool {
        #[allow(unsafe_code)]
        // SAFETY: mallopt takes plain integers, changes glibc's allocator settings under the arena's own
        // lock (and may consolidate glibc's free lists, its own memory); it reads or writes no memory of
        // ours and is callable from any thread at any time.
        let (no_mmap, no_trim) =
            unsafe { (libc::mallopt(libc::M_MMAP_MAX, 0), libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX)) };
        // mallopt returns 1 on success, 0 on error.
        no_mmap == 1 && no_trim == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub(super) fn keep_freed_memory() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_settings() {
        assert!(super::keep_freed_memory());
        // Memory still works after: allocate and free a block far above glibc's default mmap threshold.
        let big = vec![7u8; 64 << 20];
        assert_eq!(big.iter().map(|&b| b as usize).sum::<usize>(), 7 * (64 << 20));
    }
}
