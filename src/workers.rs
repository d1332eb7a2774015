//! Worker threads that survive `fork()`.
//!
//! Rayon's worker threads (its global pool's and an analyser's own) are not
//! copied into a forked child, but the pools' bookkeeping is: work a child
//! queues on them waits forever. Python's `multiprocessing` forks by default
//! on Linux, and pre-fork servers load a library in the parent; a child
//! would hang on its first analysis after the parent had analysed one. So
//! the process that first asks records itself, and any other process (a
//! fork of it) runs its analyses on a pool of its own, made on first use.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The process whose pools are the ones rayon started: the first to ask.
static STARTED_IN: OnceLock<u32> = OnceLock::new();

/// A forked child's own pool, with the child's process id.
static CHILD_POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// Run `op` as it would run here (in the current rayon pool), unless this
/// process was forked from one that used trueshot's worker threads: then in
/// a pool of this process's own (one worker per core), since the threads
/// of the pools it inherited did not survive the fork. Analysers do this
/// themselves; call it around parallel work of your own on trueshot
/// (`par_iter` over images in rayon's global pool) that may run in a
/// forked child.
pub fn in_live_pool<T: Send>(op: impl FnOnce() -> T + Send) -> T {
    match forked_pool() {
        Some(pool) => pool.install(op),
        None => op(),
    }
}

/// The pool of a process forked from the one that first asked; `None` in
/// that process (its pools are alive), or when no pool can be started.
pub(crate) fn forked_pool() -> Option<Arc<rayon::ThreadPool>> {
    let pid = std::process::id();
    if *STARTED_IN.get_or_init(|| pid) == pid {
        return None;
    }
    let mut slot = CHILD_POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return Some(Arc::clone(pool));
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("trueshot-forked-{i}"))
        .build()
        .ok()
        .map(Arc::new)?;
    *slot = Some((pid, Arc::clone(&pool)));
    Some(pool)
}
