//! A memory budget for batches: how many images may be analysed at once.
//!
//! A parallel scan holds one image per worker thread, so its peak memory
//! grows with the number of threads times the size of the largest images
//! (README, Limits: 48 MP files on 8 threads peaked at 3.5 GB). A batch
//! driver that cannot choose its thread count for the worst image admits
//! each image against a [`MemoryBudget`] before handing it to its pool:
//! small images run side by side, a large one waits until enough of the
//! budget is free.
//!
//! Admission happens on the thread that calls
//! [`MemoryBudget::run_admitted`], outside the pool that runs the analyses:
//! a pool thread that blocks while waiting for the budget can hold a part
//! of another image's analysis on its stack (rayon's work stealing), and
//! the image that holds the budget could then never finish.

use std::sync::{Condvar, Mutex, PoisonError};

use crate::{decode, Config};

/// Peak bytes per pixel of an analysis (decoded pixels, luma, residuals,
/// maps, the copy-move search): measured 12.3-14.5 on 8-bit JPEGs of 0.8
/// to 48 MP (peak RSS of one `trueshot scan --threads 1` less the process's
/// own 15 MB, 2026-12-01). Decoding 16-bit PNG or TIFF allocates more for
/// a moment, within `Config::max_decoded_bytes`; writing the heatmap PNG
/// and the review page takes about 5 and 10 bytes per pixel more (measured
/// on a 12 MP JPEG), which callers that write them add.
pub const PEAK_BYTES_PER_PIXEL: u64 = 15;

/// The peak memory analysing `encoded` under `config` is expected to take,
/// in bytes: the file itself plus [`PEAK_BYTES_PER_PIXEL`] per pixel its
/// header declares. A file whose header
/// cannot be read, or declares more than `config.max_pixels`, is counted
/// by its length alone: its analysis stops before any pixel buffer exists.
#[must_use]
pub fn estimated_peak_bytes(encoded: &[u8], config: &Config) -> u64 {
    let pixels = declared_pixels(encoded, config);
    (encoded.len() as u64).saturating_add(pixels.saturating_mul(PEAK_BYTES_PER_PIXEL))
}

/// The pixels the header of `encoded` declares, read without decoding; 0
/// when it cannot be read or declares more than `config.max_pixels` (the
/// analysis then stops before any pixel buffer exists). For callers that
/// add their own per-pixel costs to [`estimated_peak_bytes`].
#[must_use]
pub fn declared_pixels(encoded: &[u8], config: &Config) -> u64 {
    // The header is untrusted: a decoder bug that panics on it counts as
    // unreadable here (the analysis, which reads it again, contains the
    // panic as an `internal` error of that file), so a batch driver's
    // admission step never raises.
    let declared = std::panic::catch_unwind(|| {
        decode::sniff(encoded).and_then(|format| decode::declared_dimensions(encoded, format))
    });
    let pixels = declared
        .ok()
        .and_then(Result::ok)
        .map_or(0, |(w, h)| u64::from(w) * u64::from(h));
    if pixels > config.max_pixels {
        0
    } else {
        pixels
    }
}

/// The peak memory analysing `width x height` decoded pixels is expected
/// to take, in bytes, the 8-bit RGB pixels included
/// ([`PEAK_BYTES_PER_PIXEL`] per pixel).
#[must_use]
pub fn estimated_peak_bytes_for_pixels(width: u32, height: u32) -> u64 {
    (u64::from(width) * u64::from(height)).saturating_mul(PEAK_BYTES_PER_PIXEL)
}

/// A number of bytes shared by the analyses of a batch
/// ([`MemoryBudget::run_admitted`]). Requests are served in the order they
/// come, each once it fits beside those admitted before it (so a large one
/// is not passed over by a stream of small ones); a request larger than
/// the whole budget waits until nothing else is admitted and then runs
/// alone, so every image is still analysed (the per-image limits are
/// `Config::max_pixels` and `max_decoded_bytes`).
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    state: Mutex<Queue>,
    changed: Condvar,
}

/// Bytes admitted, the most ever admitted at once, and the tickets of the
/// requests in line (taken in order; `serving` is the one whose turn it is).
#[derive(Debug, Default)]
struct Queue {
    in_use: u64,
    peak: u64,
    next_ticket: u64,
    serving: u64,
}

/// Bytes admitted, given back when dropped.
#[derive(Debug)]
#[must_use = "the bytes are given back when the permit is dropped"]
struct MemoryPermit<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes (at least 1).
    #[must_use]
    pub fn new(limit: u64) -> Self {
        MemoryBudget {
            limit: limit.max(1),
            state: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        }
    }

    /// The budget, in bytes.
    #[must_use]
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The most bytes admitted at once so far (each request counted at
    /// most at the whole budget): how close a batch came to the budget,
    /// and, for a budget shared by several callers, a check that together
    /// they stayed within it.
    #[must_use]
    pub fn peak_bytes(&self) -> u64 {
        self.queue().peak
    }

    /// Bytes admitted and not yet given back.
    #[cfg(test)]
    fn in_use(&self) -> u64 {
        self.queue().in_use
    }

    /// Run `work` on every item in `pool`, each admitted first: `load`
    /// prepares an item on the calling thread (reads its file, say) and
    /// gives its estimated peak bytes, the call waits for room, and the
    /// bytes are held until `work` on it returns. At most two items per
    /// worker of `pool` are admitted and unfinished at once. Several calls,
    /// on threads of their own, may share one budget. Returns when every
    /// item is done. A panic in `work` is raised here once the items already
    /// started finish; a panic in `load` stops at that item the same way.
    ///
    /// The calling thread must not be one that `work` waits on: not a
    /// worker of a pool `work` runs its own parallel steps in with no other
    /// thread free. Called from a worker of `pool` itself, where waiting
    /// could stall the pool, the items run one at a time on the calling
    /// thread instead, counted in the budget without waiting for it.
    pub fn run_admitted<T, L>(
        &self,
        pool: &rayon::ThreadPool,
        items: impl IntoIterator<Item = T>,
        mut load: impl FnMut(T) -> (L, u64),
        work: impl Fn(L) + Sync,
    ) where
        L: Send,
    {
        if pool.current_thread_index().is_some() {
            for item in items {
                let (loaded, bytes) = load(item);
                let _permit = self.admit(bytes, false);
                work(loaded);
            }
            return;
        }
        let work = &work;
        // An admitted item holds its bytes until a worker has run it, so a
        // call admits at most two items per worker of its pool: one with
        // few workers (a one-thread pool beside other callers of a shared
        // budget) must not hold the budget for items it cannot run yet.
        let slots = MemoryBudget::new(2 * pool.current_num_threads() as u64);
        pool.in_place_scope(|scope| {
            for item in items {
                let slot = slots.admit(1, true);
                let (loaded, bytes) = load(item);
                let permit = self.admit(bytes, true);
                scope.spawn(move |_| {
                    work(loaded);
                    drop(permit);
                    drop(slot);
                });
            }
        });
    }

    /// Admit `bytes` (at most the whole budget): when `wait`, in turn and
    /// once they fit; otherwise at once, even past the limit.
    fn admit(&self, bytes: u64, wait: bool) -> MemoryPermit<'_> {
        let bytes = bytes.min(self.limit);
        let mut queue = self.queue();
        if wait {
            let ticket = queue.next_ticket;
            queue.next_ticket += 1;
            while queue.serving != ticket || queue.in_use.saturating_add(bytes) > self.limit {
                queue = self
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            queue.serving += 1;
        }
        queue.in_use += bytes;
        queue.peak = queue.peak.max(queue.in_use);
        drop(queue);
        // The next in line may fit too.
        self.changed.notify_all();
        MemoryPermit {
            budget: self,
            bytes,
        }
    }

    /// The queue, locked. A panic elsewhere while it was held leaves counts
    /// that are still right (each change is one assignment), so poison is
    /// ignored.
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for MemoryPermit<'_> {
    fn drop(&mut self) {
        let mut queue = self.budget.queue();
        queue.in_use = queue.in_use.saturating_sub(self.bytes);
        drop(queue);
        self.budget.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn the_estimate_counts_the_declared_pixels_and_the_file() {
        let image = image::RgbImage::from_pixel(300, 200, image::Rgb([90, 120, 150]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(image)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode");
        let config = Config::default();
        let expected = png.len() as u64 + 300 * 200 * PEAK_BYTES_PER_PIXEL;
        assert_eq!(estimated_peak_bytes(&png, &config), expected);
        assert_eq!(estimated_peak_bytes(b"not an image", &config), 12);
        assert_eq!(estimated_peak_bytes(&[], &config), 0);
        // Over the pixel limit: refused before decoding, so the file alone.
        let mut small = config.clone();
        small.max_pixels = 300 * 200 - 1;
        assert_eq!(estimated_peak_bytes(&png, &small), png.len() as u64);
    }

    /// In flight at once: bytes and items, and their peaks.
    #[derive(Default)]
    struct Gauge {
        bytes: AtomicU64,
        items: AtomicU64,
        peak_bytes: AtomicU64,
        peak_items: AtomicU64,
        done: AtomicU64,
    }

    impl Gauge {
        fn work(&self, bytes: u64) {
            let now = self.bytes.fetch_add(bytes, Ordering::SeqCst) + bytes;
            let items = self.items.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak_bytes.fetch_max(now, Ordering::SeqCst);
            self.peak_items.fetch_max(items, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(15));
            self.bytes.fetch_sub(bytes, Ordering::SeqCst);
            self.items.fetch_sub(1, Ordering::SeqCst);
            self.done.fetch_add(1, Ordering::SeqCst);
        }
    }

    const SIZES: [u64; 8] = [60, 50, 40, 30, 70, 20, 10, 10];
    const BUDGET: u64 = 100;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool")
    }

    /// [`SIZES`] run under a budget of [`BUDGET`] in a pool of `threads`,
    /// called from outside the pool or from one of its workers.
    fn run_sizes(threads: usize, from_inside: bool) -> Gauge {
        let pool = pool(threads);
        let budget = MemoryBudget::new(BUDGET);
        let gauge = Gauge::default();
        let run = || {
            budget.run_admitted(&pool, SIZES, |bytes| (bytes, bytes), |b| gauge.work(b));
        };
        if from_inside {
            pool.install(run);
        } else {
            run();
        }
        assert_eq!(gauge.done.load(Ordering::SeqCst), SIZES.len() as u64);
        assert_eq!(budget.in_use(), 0);
        gauge
    }

    #[test]
    fn run_admitted_runs_side_by_side_within_the_budget() {
        let gauge = run_sizes(4, false);
        let peak = gauge.peak_bytes.load(Ordering::SeqCst);
        assert!((70..=BUDGET).contains(&peak), "peak {peak}");
        assert!(gauge.peak_items.load(Ordering::SeqCst) >= 2);
        // Without a budget the same items overlap beyond it: the test can fail.
        let free = Gauge::default();
        pool(4).scope(|scope| {
            for bytes in SIZES {
                let free = &free;
                scope.spawn(move |_| free.work(bytes));
            }
        });
        assert!(free.peak_bytes.load(Ordering::SeqCst) > BUDGET);
    }

    /// Called from a worker of its own pool (a one-thread pool, where
    /// waiting for the budget would block the only thread that can free
    /// it), the items run one at a time on that thread. Run on a thread of
    /// its own, so that a stall fails the test instead of hanging it.
    #[test]
    fn run_admitted_from_inside_its_pool_finishes_one_at_a_time() {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let gauge = run_sizes(1, true);
            let _ = sender.send(gauge.peak_items.load(Ordering::SeqCst));
        });
        let peak_items = receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("run_admitted stalled inside its own pool");
        assert_eq!(peak_items, 1);
    }

    /// Requests are served in turn: a small one that would fit waits
    /// behind a large one that came first, which is not starved.
    #[test]
    fn requests_are_served_in_the_order_they_come() {
        let budget = MemoryBudget::new(100);
        let order = Mutex::new(Vec::new());
        let held = budget.admit(60, true);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _permit = budget.admit(100, true);
                order.lock().expect("order").push("large");
            });
            std::thread::sleep(Duration::from_millis(50));
            scope.spawn(|| {
                let _permit = budget.admit(10, true);
                order.lock().expect("order").push("small");
            });
            std::thread::sleep(Duration::from_millis(50));
            // 10 more bytes would fit, but the large request is first in line.
            assert_eq!(budget.in_use(), 60);
            drop(held);
        });
        assert_eq!(*order.lock().expect("order"), ["large", "small"]);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn admitted_bytes_never_exceed_the_budget() {
        let budget = Arc::new(MemoryBudget::new(100));
        let peak = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = [60u64, 50, 40, 30, 70, 20]
            .into_iter()
            .map(|bytes| {
                let (budget, peak) = (Arc::clone(&budget), Arc::clone(&peak));
                std::thread::spawn(move || {
                    let _permit = budget.admit(bytes, true);
                    peak.fetch_max(budget.in_use(), Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker");
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((70..=100).contains(&peak), "peak {peak}");
        // The budget's own high-water mark saw at least what the workers saw.
        assert!(
            (peak..=100).contains(&budget.peak_bytes()),
            "{}",
            budget.peak_bytes()
        );
        assert_eq!(budget.in_use(), 0);
    }

    /// A call admits at most two items per worker: with a one-thread pool
    /// and room for all ten items, each item starts with at most one other
    /// admitted (before the cap, all ten were admitted at once).
    #[test]
    fn a_call_admits_at_most_two_items_per_worker() {
        let budget = MemoryBudget::new(1_000);
        let most = AtomicU64::new(0);
        budget.run_admitted(
            &pool(1),
            [10u64; 10],
            |bytes| (bytes, bytes),
            |_| {
                most.fetch_max(budget.in_use(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            },
        );
        let most = most.load(Ordering::SeqCst);
        assert!((10..=20).contains(&most), "{most} bytes admitted at once");
        assert_eq!(budget.in_use(), 0);
    }

    /// Calls on two threads, each with a pool of its own, sharing one
    /// budget stay within it together; with a budget each they go over.
    #[test]
    fn calls_sharing_a_budget_stay_within_it_together() {
        let run_two = |shared: bool| {
            let budgets = [MemoryBudget::new(BUDGET), MemoryBudget::new(BUDGET)];
            let gauge = Gauge::default();
            // Both calls start together, so that they overlap.
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                for i in 0..2 {
                    let budget = &budgets[if shared { 0 } else { i }];
                    let (gauge, start) = (&gauge, &start);
                    scope.spawn(move || {
                        let pool = pool(2);
                        start.wait();
                        budget.run_admitted(&pool, SIZES, |b| (b, b), |b| gauge.work(b));
                    });
                }
            });
            assert_eq!(gauge.done.load(Ordering::SeqCst), 2 * SIZES.len() as u64);
            gauge.peak_bytes.load(Ordering::SeqCst)
        };
        let shared = run_two(true);
        assert!((70..=BUDGET).contains(&shared), "shared peak {shared}");
        // The test can fail: two budgets admit up to twice as much.
        assert!(run_two(false) > BUDGET);
    }

    #[test]
    fn the_peak_is_the_most_admitted_at_once() {
        let budget = MemoryBudget::new(100);
        assert_eq!((budget.limit(), budget.peak_bytes()), (100, 0));
        let first = budget.admit(30, true);
        let second = budget.admit(50, true);
        drop((first, second));
        let third = budget.admit(20, true);
        assert_eq!(budget.peak_bytes(), 80);
        // A request over the budget counts as the whole budget.
        drop(third);
        let _large = budget.admit(1_000, true);
        assert_eq!(budget.peak_bytes(), 100);
    }

    #[test]
    fn a_request_over_the_budget_runs_alone() {
        let budget = MemoryBudget::new(100);
        let small = budget.admit(10, true);
        std::thread::scope(|scope| {
            let large = scope.spawn(|| {
                let _permit = budget.admit(1_000, true);
                budget.in_use()
            });
            // The large request waits for the small one to be given back.
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(budget.in_use(), 10);
            drop(small);
            assert_eq!(large.join().expect("large"), 100);
        });
        assert_eq!(budget.in_use(), 0);
    }
}
