//! Whole-image sample buffers.
//!
//! A 12-megapixel photo needs about 170 MB of large buffers (RGB bytes, f32
//! luma and residual, per-block DCT coefficients and profiles, tile
//! spectra). Allocated in 4 KiB pages, first touching them costs some
//! 40,000 page faults, which perf measured at about a fifth of the whole
//! analysis. Large buffers are therefore their own anonymous mapping with
//! the kernel told that transparent huge pages suit it (`madvise
//! MADV_HUGEPAGE`, through memmap2's safe API): 2 MiB pages, 512 times fewer
//! faults (12 MP, one thread: 0.34 s to 0.25 s per process). Where the
//! kernel does not offer them the advice is ignored and the buffer behaves
//! like any other.
//!
//! A long-running service analyses image after image: the mappings of
//! dropped buffers are kept (up to 256 MB, `TRUESHOT_SPARE_MB`, or what
//! [`set_spare_memory`] sets) and
//! handed, zeroed, to the next buffers that fit, so that a batch stops
//! taking fresh pages once it has seen its largest image. Measured on the shared VM this was developed on,
//! where touching memory the host has not backed yet is slow: a batch of 86
//! photos in one process is 6-10% slower than with the system allocator
//! (the first touches), three passes over them take the same time, and the
//! resident memory of a batch is up to the spare budget higher.
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use memmap2::MmapMut;

/// A transparent huge page on x86-64 and most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Buffers at least this large are mapped, and their mappings reused;
/// smaller ones stay on the heap. Half a huge page, not two: glibc gives
/// the threads of an analyser's own pool an arena that returns freed
/// memory to the system, so that megabyte-sized heap buffers (the 1 MP
/// planes, the spectrum's tiles, copy-move's block descriptors) were
/// touched afresh for every image: 6,500 page faults per 1 MP image with
/// 4 MiB here, 140 with 1 MiB, and 91 -> 79 ms per image (one thread,
/// a kept `Analyzer`).
const MAP_MIN_BYTES: usize = HUGE_PAGE / 2;

/// At most this many bytes of dropped mappings are kept for reuse by
/// default: the large buffers of a 12 MP photo (240 MB of mappings).
const SPARE_MAX_BYTES: usize = 256 << 20;

/// The budget [`set_spare_memory`] set, or `usize::MAX` while it has not.
static BUDGET_SET: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The spare budget in bytes: what [`set_spare_memory`] set, else
/// `TRUESHOT_SPARE_MB` in the environment (read once; `0` keeps nothing,
/// for hosts that want memory back after each image), else
/// [`SPARE_MAX_BYTES`].
fn spare_budget() -> usize {
    static FROM_ENV: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    match BUDGET_SET.load(Ordering::Relaxed) {
        usize::MAX => *FROM_ENV
            .get_or_init(|| budget_from(std::env::var("TRUESHOT_SPARE_MB").ok().as_deref())),
        set => set,
    }
}

/// Keep at most `megabytes` of dropped buffer memory for the next images
/// of this process (default 256, or `TRUESHOT_SPARE_MB`); `0` keeps
/// nothing. Process-wide, for every analyser; what no longer fits is
/// handed back to the system now.
pub fn set_spare_memory(megabytes: usize) {
    BUDGET_SET.store(
        megabytes.saturating_mul(1 << 20).min(usize::MAX - 1),
        Ordering::Relaxed,
    );
    keep_spares(None);
}

/// Add `map` (if any) to the spares, then drop the oldest until the
/// spares fit the budget.
fn keep_spares(map: Option<MmapMut>) {
    let budget = spare_budget();
    if map.as_ref().is_some_and(|m| m.len() > budget) {
        // Would evict every other spare and then itself.
        return;
    }
    let evicted = {
        let mut spare = SPARE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        spare.extend(map);
        trim(&mut spare, budget)
    };
    // Unmapped here, after the lock is released: other threads need not
    // wait on it.
    drop(evicted);
}

/// Take the oldest spares out until the rest fit `budget`.
fn trim<M: Deref<Target = [u8]>>(spare: &mut VecDeque<M>, budget: usize) -> Vec<M> {
    let mut evicted = Vec::new();
    while spare.iter().map(|m| m.len()).sum::<usize>() > budget {
        evicted.extend(spare.pop_front());
    }
    evicted
}

/// [`spare_budget`] from the variable's value; an unreadable value keeps
/// the default.
fn budget_from(megabytes: Option<&str>) -> usize {
    megabytes
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(SPARE_MAX_BYTES, |mb| mb.saturating_mul(1 << 20))
}

/// Dropped mappings, oldest first.
static SPARE: Mutex<VecDeque<MmapMut>> = Mutex::new(VecDeque::new());

/// A zero-initialised buffer of `T` (f32 planes, RGB bytes, blocks).
pub(crate) struct Buffer<T: bytemuck::Pod> {
    storage: Storage<T>,
}

enum Storage<T> {
    Heap(Vec<T>),
    /// `len` elements at the start of the mapping (page-aligned, so any `T`
    /// fits its alignment; the mapping may be longer). `None` only while
    /// the buffer is dropped.
    Mapped {
        map: Option<MmapMut>,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Buffer<T> {
    /// `len` zeroed elements.
    pub(crate) fn zeroed(len: usize) -> Self {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        if bytes >= MAP_MIN_BYTES {
            if let Some(map) = mapping(bytes) {
                return Buffer {
                    storage: Storage::Mapped {
                        map: Some(map),
                        len,
                    },
                };
            }
        }
        Buffer {
            storage: Storage::Heap(vec![T::zeroed(); len]),
        }
    }
}

/// A mapping of at least `bytes` whose first `bytes` are zero: the smallest
/// spare one that is large enough, else a fresh one (`None` if the system
/// refuses; the caller then falls back to the heap, which reports an
/// exhausted memory the way Rust always does).
///
/// Fresh mappings are sized to the next power of two, so that a spare one
/// still fits when the next image is a little larger (rounding to whole
/// huge pages instead took 10-17% longer on a batch of dev photos: more
/// fresh mappings). The pages past `bytes` are not touched, so they cost
/// address space, and at most the one huge page that holds the last byte.
fn mapping(bytes: usize) -> Option<MmapMut> {
    let spare = {
        let mut spare = SPARE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fits = (0..spare.len())
            .filter(|&i| spare[i].len() >= bytes)
            .min_by_key(|&i| spare[i].len());
        fits.and_then(|i| spare.remove(i))
    };
    if let Some(mut map) = spare {
        map[..bytes].fill(0);
        return Some(map);
    }
    let map = MmapMut::map_anon(bytes.checked_next_power_of_two()?).ok()?;
    // Advice only: a kernel without transparent huge pages refuses it and
    // the mapping works with small pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Some(map)
}

impl<T: bytemuck::Pod> Drop for Buffer<T> {
    fn drop(&mut self) {
        let Storage::Mapped { map, .. } = &mut self.storage else {
            return;
        };
        keep_spares(map.take());
    }
}

impl<T: bytemuck::Pod> From<Vec<T>> for Buffer<T> {
    fn from(v: Vec<T>) -> Self {
        Buffer {
            storage: Storage::Heap(v),
        }
    }
}

impl<T: bytemuck::Pod> Deref for Buffer<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped {
                map: Some(map),
                len,
            } => bytemuck::cast_slice(&map[..len * std::mem::size_of::<T>()]),
            Storage::Mapped { map: None, .. } => &[],
        }
    }
}

impl<T: bytemuck::Pod> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped {
                map: Some(map),
                len,
            } => bytemuck::cast_slice_mut(&mut map[..*len * std::mem::size_of::<T>()]),
            Storage::Mapped { map: None, .. } => &mut [],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_buffers_are_zeroed_and_writable() {
        for len in [0, 1, 1000, MAP_MIN_BYTES / 4 + 3] {
            let mut b = Buffer::<f32>::zeroed(len);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&v| v == 0.0));
            if let Some(last) = b.last_mut() {
                *last = 2.5;
            }
            assert!(len == 0 || b[len - 1] == 2.5);
        }
        let bytes = Buffer::<u8>::zeroed(MAP_MIN_BYTES + 1);
        assert_eq!(bytes.len(), MAP_MIN_BYTES + 1);
    }

    #[test]
    fn the_spare_budget_follows_the_environment_value() {
        assert_eq!(budget_from(None), SPARE_MAX_BYTES);
        assert_eq!(budget_from(Some("0")), 0);
        assert_eq!(budget_from(Some(" 64 ")), 64 << 20);
        assert_eq!(budget_from(Some("lots")), SPARE_MAX_BYTES);
        assert_eq!(budget_from(Some("-1")), SPARE_MAX_BYTES);
    }

    #[test]
    fn set_spare_memory_sets_the_budget_and_trimming_drops_the_oldest() {
        // Other test threads only read the budget; none asserts on it.
        set_spare_memory(0);
        assert_eq!(spare_budget(), 0);
        set_spare_memory(64);
        assert_eq!(spare_budget(), 64 << 20);
        BUDGET_SET.store(usize::MAX, Ordering::Relaxed);
        assert_eq!(
            spare_budget(),
            budget_from(std::env::var("TRUESHOT_SPARE_MB").ok().as_deref())
        );

        let mut spare: VecDeque<Vec<u8>> = [vec![1; 10], vec![2; 20], vec![3; 30]].into();
        assert!(trim(&mut spare, 60).is_empty());
        let evicted = trim(&mut spare, 35);
        assert_eq!(evicted, [vec![1; 10], vec![2; 20]]);
        assert_eq!(spare, [vec![3; 30]]);
        assert_eq!(trim(&mut spare, 0), [vec![3; 30]]);
        assert!(spare.is_empty());
    }

    #[test]
    fn reused_mappings_come_back_zeroed_for_any_element_type() {
        // Spare mappings are shared by every test thread: whatever this
        // test gets (fresh or reused), it must be zero and of its length.
        for round in 0..4u8 {
            let mut a = Buffer::<u8>::zeroed(2 * MAP_MIN_BYTES - 7);
            assert!(a.iter().all(|&v| v == 0));
            a.fill(round + 1);
            drop(a);
            // 72-byte elements over the mapping the u8 buffer used: its
            // length is not a multiple of 72.
            let b = Buffer::<[f32; 18]>::zeroed(MAP_MIN_BYTES / 72 + 1);
            assert_eq!(b.len(), MAP_MIN_BYTES / 72 + 1);
            assert!(b.iter().all(|v| v.iter().all(|&x| x == 0.0)));
        }
    }
}
