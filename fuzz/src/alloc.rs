//! The system allocator, watched: [`largest_allocation`] runs a closure and
//! says the largest allocation it made on this thread, so a check can
//! assert a parser allocates nothing, or nothing past its limit.
//!
//! Installed as the global allocator of every binary that links this
//! crate (the fuzz targets and its tests).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, noting allocation sizes while a thread watches.
struct Watching;

thread_local! {
    /// Whether this thread's allocations are being watched.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// The largest allocation (or reallocation) asked for while armed;
    /// `None` if there was none.
    static LARGEST: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Notes an allocation of `size` bytes if this thread is watching.
fn note(size: usize) {
    // `try_with`: the thread-locals may be gone while a thread exits.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|largest| {
                largest.set(Some(largest.get().map_or(size, |l| l.max(size))));
            });
        }
    });
}

// SAFETY: every call goes unchanged to the system allocator.
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's guarantees are the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// Runs `f` and returns what it returned with the largest allocation it
/// made on this thread (`None`: it allocated nothing).
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, Option<usize>) {
    LARGEST.with(|largest| largest.set(None));
    ARMED.with(|armed| armed.set(true));
    let result = f();
    ARMED.with(|armed| armed.set(false));
    (result, LARGEST.with(Cell::get))
}
