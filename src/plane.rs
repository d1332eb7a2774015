//! Whole-image sample buffers.
//!
//! A 12-megapixel photo needs about 130 MB of planes (RGB bytes, f32 luma,
//! f32 residual). Allocated in 4 KiB pages, first touching them costs some
//! 40,000 page faults, which perf measured at about a fifth of the whole
//! analysis. Large buffers are therefore their own anonymous mapping with
//! the kernel told that transparent huge pages suit it (`madvise
//! MADV_HUGEPAGE`, through memmap2's safe API): 2 MiB pages, 512 times fewer
//! faults. Where the kernel does not offer them the advice is ignored and
//! the buffer behaves like any other.

use std::ops::{Deref, DerefMut};

use memmap2::{Advice, MmapMut};

/// Buffers at least this large are mapped (two huge pages); smaller ones
/// gain nothing and stay on the heap.
const MAP_MIN_BYTES: usize = 4 << 20;

/// A zero-initialised buffer of `T` (f32 planes, RGB bytes).
pub(crate) struct Buffer<T: bytemuck::Pod> {
    storage: Storage<T>,
}

enum Storage<T> {
    Heap(Vec<T>),
    /// `len` elements at the start of the mapping (page-aligned, so any `T`
    /// fits its alignment).
    Mapped {
        map: MmapMut,
        len: usize,
    },
}

impl<T: bytemuck::Pod> Buffer<T> {
    /// `len` zeroed elements.
    pub(crate) fn zeroed(len: usize) -> Self {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        if bytes >= MAP_MIN_BYTES {
            // A failed mapping falls back to the heap, which reports an
            // exhausted memory the way Rust always does.
            if let Ok(map) = MmapMut::map_anon(bytes) {
                // Advice only: a kernel without transparent huge pages
                // refuses it and the mapping works with small pages.
                #[cfg(target_os = "linux")]
                let _ = map.advise(Advice::HugePage);
                return Buffer {
                    storage: Storage::Mapped { map, len },
                };
            }
        }
        Buffer {
            storage: Storage::Heap(vec![T::zeroed(); len]),
        }
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
            Storage::Mapped { map, len } => &bytemuck::cast_slice(&map[..])[..*len],
        }
    }
}

impl<T: bytemuck::Pod> DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.storage {
            Storage::Heap(v) => v,
            Storage::Mapped { map, len } => &mut bytemuck::cast_slice_mut(&mut map[..])[..*len],
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
}
