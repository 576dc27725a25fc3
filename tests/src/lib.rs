//! Shared helpers for accelbench's integration tests.

use harness::env::HostFacts;
use harness::measure::SamplingConfig;

/// Provenance for test records: real values where cheap, clearly marked otherwise.
pub fn test_facts() -> HostFacts {
    HostFacts {
        commit: "test".into(),
        date: "1970-01-01T00:00:00Z".into(),
        cpu: "test".into(),
        os: std::env::consts::OS.into(),
        browser: None,
    }
}

/// Enough sampling to exercise the timing path, as little time as possible.
pub fn smoke_sampling() -> SamplingConfig {
    SamplingConfig {
        warmup: 0,
        min_samples: 2,
        max_samples: 3,
        target_rel_ci: 1.0,
        time_budget_ns: 1.0,
        min_resolutions_per_sample: 1.0,
    }
}

/// Whether GPU tests must find an adapter (CI and `./x test` set it); otherwise they report
/// that they could not run and pass, so `cargo test` works on machines without Vulkan.
pub fn gpu_required() -> bool {
    std::env::var("ACCELBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1")
}
