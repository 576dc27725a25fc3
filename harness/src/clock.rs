//! The host clock for wasm-bound code: `web_time::Instant` is `std::time::Instant` natively and
//! `performance.now()` on wasm32, where std's `Instant::now` panics. This is the one place the
//! harness reads the clock.

pub use web_time::Instant;

/// Now, on whichever platform we run.
#[allow(clippy::disallowed_methods, reason = "web_time::Instant is performance.now() on wasm32, not std's")]
pub fn now() -> Instant {
    Instant::now()
}
