//! Worker threads that survive `fork()`.
//!
//! Rayon's worker threads (its global pool's and an analyser's own) are not
//! copied into a forked child, but the pools' bookkeeping is: work a child
//! queues on them waits forever. Python's `multiprocessing` forks by default
//! on Linux, and pre-fork servers load a library in the parent; a child
//! would hang on its first analysis after the parent had analysed one. So
//! the process that first asks records itself, and any other process (a
//! fork of it) runs its analyses on a pool of its own, made on first use.
//! The first to ask is the first to analyse: a program that ran rayon work
//! of its own before forking, without trueshot, leaves its children a dead
//! global pool that this cannot see (an analyser with its own threads,
//! made in the child, still works there).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The process whose pools are the ones rayon started: the first to ask.
static STARTED_IN: OnceLock<u32> = OnceLock::new();

/// A forked child's own pool, with the child's process id.
static CHILD_POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// Run `op` as it would run here (in the current rayon pool), unless this
/// process was forked from one that had run trueshot's analyses: then in
/// a pool of this process's own (one worker per core), since the threads
/// of the pools it inherited did not survive the fork. Analysers do this
/// themselves; call it around parallel work of your own on trueshot
/// (`par_iter` over images in rayon's global pool) that may run in a
/// forked child.
pub fn in_live_pool<T: Send>(op: impl FnOnce() -> T + Send) -> T {
    match forked_pool(0) {
        Some(pool) => pool.install(op),
        None => op(),
    }
}

/// Whether this process is a fork of the one that first asked.
pub(crate) fn is_forked() -> bool {
    let pid = std::process::id();
    *STARTED_IN.get_or_init(|| pid) != pid
}

/// The pool of a process forked from the one that first asked, made with
/// `threads` workers (0: one per core) on first use; `None` in that
/// process (its pools are alive), or when no pool can be started.
pub(crate) fn forked_pool(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    if !is_forked() {
        return None;
    }
    let pid = std::process::id();
    let ours = |slot: &Option<(u32, Arc<rayon::ThreadPool>)>| {
        slot.as_ref()
            .filter(|(owner, _)| *owner == pid)
            .map(|(_, pool)| Arc::clone(pool))
    };
    if let Some(pool) = ours(&CHILD_POOL.lock().unwrap_or_else(PoisonError::into_inner)) {
        return Some(pool);
    }
    // Built with the lock released: a thread of this process that forks
    // while the threads start would leave its child the lock held.
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("trueshot-forked-{i}"))
        .build()
        .ok()
        .map(Arc::new)?;
    let mut slot = CHILD_POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pool) = ours(&slot) {
        return Some(pool); // another thread was first
    }
    *slot = Some((pid, Arc::clone(&built)));
    Some(built)
}
