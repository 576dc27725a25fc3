//! The host clock for wasm-bound code: `web_time::Instant` is `std::time::Instant` natively and
//! `performance.now()` on wasm32, where std's `Instant::now` panics. This is the one place the
//! harness reads the clock.

pub use web_time::Instant;

/// Now, on whichever platform we run.
#[allow(clippy::disallowed_methods, reason = "web_time::Instant is performance.now() on wasm32, not std's")]
pub fn now() -> Instant {
    Instant::now()
}

/// The host clock's resolution as measured here: the smallest step it takes over 50 steps
/// (or a bounded spin). Browsers coarsen `performance.now()` (100 us, or 1 ms in Firefox) unless
/// the page is cross-origin isolated; native clocks are usually tens of nanoseconds.
pub fn resolution_ns() -> f64 {
    let mut best = f64::INFINITY;
    let mut last = now();
    let mut steps = 0;
    let mut spins = 0;
    while steps < 50 && spins < 2_000_000 {
        spins += 1;
        let t = now();
        let d = t.duration_since(last).as_secs_f64() * 1e9;
        if d > 0.0 {
            best = best.min(d);
            last = t;
            steps += 1;
        }
    }
    if best.is_finite() { best } else { 1e6 }
}
