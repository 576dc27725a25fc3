//! GPU tests on this machine's native adapters (lavapipe on Vulkan, llvmpipe on GL in CI):
//! every kernel checked against its reference at quick sizes with several seeds, a missing
//! feature yields `skipped` naming it, and a wrong answer yields `mismatch`, never a timing.

use accelbench_tests::{gpu_required, smoke_sampling, test_facts};
use harness::catalogue::{KERNELS, Size};
use harness::gpu::{self, GpuDevice, RunOptions};
use harness::schema::Status;

fn device(filter: &str) -> Option<GpuDevice> {
    let adapters = pollster::block_on(gpu::native_adapters());
    let found = adapters.into_iter().find(|a| gpu::adapter_report(a).backend == filter);
    match found {
        Some(a) => Some(pollster::block_on(GpuDevice::open(&a)).expect("device opens")),
        None if gpu_required() => {
            panic!("no {filter} adapter; install mesa-vulkan-drivers (see .ci/setup) or unset ACCELBENCH_REQUIRE_GPU")
        }
        None => {
            eprintln!("no {filter} adapter here: GPU test not run (set ACCELBENCH_REQUIRE_GPU=1 to make this fail)");
            None
        }
    }
}

fn opts(seed: u64) -> RunOptions {
    RunOptions {
        backend: "test".into(),
        size: Size::Quick,
        seed,
        sampling: smoke_sampling(),
        use_timestamps: true,
        host_resolution_ns: 1000.0,
        facts: test_facts(),
    }
}

fn run_all(dev: &GpuDevice, seeds: &[u64], kernels: &[&str]) {
    let mut failures = Vec::new();
    for k in KERNELS.iter().filter(|k| kernels.is_empty() || kernels.contains(&k.id)) {
        for p in k.quick {
            for &seed in seeds {
                let inputs = k.imp.inputs(p, seed).unwrap();
                let expected = k.imp.reference(p, &inputs);
                let r = pollster::block_on(gpu::run_kernel(dev, k, p, &inputs, &expected, &opts(seed)));
                match &r.status {
                    Status::Measured => {
                        let t = r.timing.as_ref().expect("measured records carry timing");
                        assert!(t.summary.median_ns > 0.0 && t.samples_ns.len() >= 2);
                        assert!(r.check.as_ref().is_some_and(|c| c.passed));
                    }
                    Status::Skipped { reason } if !k.requires.is_empty() => {
                        eprintln!("{} skipped on {}: {reason}", k.id, dev.report.name)
                    }
                    other => failures.push(format!("{} {} seed {seed}: {other:?}", k.id, p.case)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures on {}:\n{}", failures.len(), dev.report.name, failures.join("\n"));
}

#[test]
fn every_kernel_matches_its_reference_on_vulkan_with_several_seeds() {
    let Some(dev) = device("vulkan") else { return };
    run_all(&dev, &[1, 2, 3], &[]);
}

/// GL (llvmpipe) compiles shaders very slowly when cold (minutes for the tiled kernels), so it
/// runs the light kernels here; `accelbench native --quick` covers the rest on every adapter.
#[test]
fn light_kernels_match_on_gl() {
    let Some(dev) = device("gl") else { return };
    run_all(&dev, &[4], &["softmax", "gelu-erf", "rmsnorm", "kvcache-decode"]);
}

#[test]
fn a_missing_feature_is_skipped_with_the_feature_named() {
    let adapters = pollster::block_on(gpu::native_adapters());
    let Some(a) = adapters.into_iter().find(|a| gpu::adapter_report(a).backend == "vulkan") else {
        assert!(!gpu_required(), "no Vulkan adapter");
        return;
    };
    let dev = pollster::block_on(GpuDevice::open_with(&a, wgpu_features_without_f16())).unwrap();
    let k = KERNELS.iter().find(|k| k.id == "matmul-f16").unwrap();
    let p = &k.quick[0];
    let inputs = k.imp.inputs(p, 1).unwrap();
    let r = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &[], &opts(1)));
    match r.status {
        Status::Skipped { reason } => assert!(reason.contains("shader-f16"), "{reason}"),
        other => panic!("expected skipped, got {other:?}"),
    }
    assert!(r.timing.is_none() && r.adapter.is_some());
}

fn wgpu_features_without_f16() -> harness::gpu::Features {
    harness::gpu::Features::all() - harness::gpu::Features::SHADER_F16
}

#[test]
fn a_wrong_answer_is_a_mismatch_naming_the_element_not_a_timing() {
    let Some(dev) = device("vulkan") else { return };
    let k = KERNELS.iter().find(|k| k.id == "softmax").unwrap();
    let p = &k.quick[0];
    let inputs = k.imp.inputs(p, 1).unwrap();
    let mut expected = k.imp.reference(p, &inputs);
    expected[5] += 0.5;
    let r = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, &opts(1)));
    assert!(matches!(r.status, Status::Mismatch { .. }), "{:?}", r.status);
    let c = r.check.unwrap();
    assert_eq!((c.passed, c.worst_index, c.failing_elements), (false, Some(5), 1));
    assert!(r.timing.is_none() && r.throughput.is_none());
}

#[test]
fn timestamps_and_host_fences_both_time_the_same_kernel() {
    let Some(dev) = device("vulkan") else { return };
    let k = KERNELS.iter().find(|k| k.id == "kvcache-stream").unwrap();
    let p = &k.quick[0];
    let inputs = k.imp.inputs(p, 1).unwrap();
    let expected = k.imp.reference(p, &inputs);
    let ts = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, &opts(1)));
    let t = ts.timing.unwrap();
    assert_eq!(t.timer.kind, "gpu-timestamp");
    // Prefill plus one phase per decode step: per-token latency is visible.
    assert_eq!(t.phases.len(), 1 + p.get("steps") as usize);
    assert_eq!(t.phases[1].label, "step 0");

    let fence = RunOptions { use_timestamps: false, ..opts(1) };
    let hf = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, &fence));
    let t = hf.timing.unwrap();
    assert_eq!(t.timer.kind, "host-fence");
    assert!(t.phases.is_empty());
}
