//! The panic boundary and the pointer checks of the C ABI, after rustls-ffi's
//! `panic.rs` (`ffi_panic_boundary!`, `PanicOrDefault`) and `ffi.rs`
//! (`try_ref_from_ptr!`, `NullParameterOrDefault`).
//!
//! Unwinding out of an `extern "C"` function aborts the process, and a
//! platform's review service must never die on a crafted upload, so every
//! entry point runs its body inside [`ffi_boundary!`]. We do not set
//! `panic = "abort"`: the boundary turns a panic into `TRUESHOT_STATUS_PANIC`
//! (or a NULL/0 return), which a long-running service can log and survive.

use std::ffi::c_char;

use super::{trueshot_class, trueshot_status, trueshot_verdict};

/// What an entry point returns when its body panicked or a required pointer
/// was NULL. Status-returning functions say which, and a NULL argument is a
/// failure that replaces the thread's last error message. The others return
/// a value the documentation names as "nothing" (NULL, 0, -1.0, `false`)
/// and leave the message as it was: reading the verdict of a report that
/// failed to be made (NULL) must not erase why it failed.
pub(crate) trait FfiDefault {
    /// The value returned after a caught panic.
    fn on_panic() -> Self;
    /// The value returned when the pointer argument `argument` is NULL.
    fn on_null(argument: &str) -> Self;
}

impl FfiDefault for trueshot_status {
    fn on_panic() -> Self {
        trueshot_status::Panic
    }
    fn on_null(argument: &str) -> Self {
        super::set_last_error_null(argument);
        trueshot_status::NullArgument
    }
}

/// Implements [`FfiDefault`] with the same value for both cases.
macro_rules! same_default {
    ($($ty:ty => $value:expr),* $(,)?) => {
        $(impl FfiDefault for $ty {
            fn on_panic() -> Self { $value }
            fn on_null(_argument: &str) -> Self { $value }
        })*
    };
}

same_default! {
    () => (),
    bool => false,
    u32 => 0,
    u64 => 0,
    usize => 0,
    // Scores live in [0, 1], so -1.0 cannot be mistaken for one.
    f32 => -1.0,
    *const c_char => std::ptr::null(),
    *const f32 => std::ptr::null(),
    *mut super::trueshot_config => std::ptr::null_mut(),
    trueshot_verdict => trueshot_verdict::Unknown,
    trueshot_class => trueshot_class::None,
}

/// Run the body of an entry point, catching any panic. The body may
/// `return` early; its value is the function's value.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {{
        let result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
            $($body)*
        }));
        match result {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::set_last_error_panic(payload.as_ref());
                $crate::ffi::panic::FfiDefault::on_panic()
            }
        }
    }};
}

/// Borrow `*const T` / `*mut T` as `&T`, or return the "NULL argument" value
/// from the enclosing closure ([`FfiDefault::on_null`]: a status records
/// which argument it was).
macro_rules! try_ref {
    ($ptr:ident) => {{
        // SAFETY: the caller promises (see each function's `# Safety`) that a
        // non-NULL pointer points to a live object of the right type, created
        // by this library and not yet freed; NULL is handled by `as_ref`.
        match unsafe { $ptr.as_ref() } {
            Some(value) => value,
            None => return $crate::ffi::panic::FfiDefault::on_null(stringify!($ptr)),
        }
    }};
}

/// Borrow `*mut T` as `&mut T`, or return the "NULL argument" value.
macro_rules! try_mut {
    ($ptr:ident) => {{
        // SAFETY: the caller promises that a non-NULL pointer points to a live
        // object of the right type that no other thread uses during the call.
        match unsafe { $ptr.as_mut() } {
            Some(value) => value,
            None => return $crate::ffi::panic::FfiDefault::on_null(stringify!($ptr)),
        }
    }};
}

pub(crate) use {ffi_boundary, try_mut, try_ref};
