//! GPU tests on this machine's native adapters (lavapipe on Vulkan, llvmpipe on GL in CI):
//! every kernel checked against its reference at quick sizes with several seeds, a missing
//! feature yields `skipped` naming it, and a wrong answer yields `mismatch`, never a timing.

use accelbench_tests::{gpu_required, smoke_sampling, test_facts};
use harness::catalogue::{KERNELS, Params, Size};
use harness::gpu::{self, GpuDevice, RunOptions};
use harness::schema::Status;

/// lavapipe and llvmpipe use every core: tests that ran at once would time each other. Each GPU
/// test holds this for its whole run, so the binary's tests run one after another.
static GPU: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    GPU.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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
        autotune: harness::autotune::AutotuneOptions::default(),
    }
}

fn run_all(dev: &GpuDevice, seeds: &[u64], kernels: &[&str]) {
    let mut failures = Vec::new();
    for k in KERNELS.iter().filter(|k| kernels.is_empty() || kernels.contains(&k.id)) {
        for p in &k.params(Size::Quick) {
            for &seed in seeds {
                let inputs = k.imp.inputs(p, seed).unwrap();
                let expected = k.imp.reference(p, &inputs);
                let f32 = k.imp.f32_result(p, &inputs, seed);
                // Every variant, each named: the autotuner may pick any of them.
                for imp in k.implementations() {
                    let job = gpu::Job {
                        kernel: k,
                        params: p,
                        inputs: &inputs,
                        expected: &expected,
                        f32_result: f32.as_deref(),
                        variant: Some(imp.variant),
                    };
                    let r = pollster::block_on(gpu::run_interleaved(dev, &[job], &opts(seed))).pop().unwrap();
                    match &r.status {
                        Status::Measured => {
                            let t = r.timing.as_ref().expect("measured records carry timing");
                            assert!(t.summary.median_ns > 0.0 && t.samples_ns.len() >= 2);
                            assert!(r.check.as_ref().is_some_and(|c| c.passed));
                            // Reduced-precision kernels also say how far they are from f32.
                            let vs = r.check.as_ref().and_then(|c| c.vs_f32.as_ref());
                            assert_eq!(vs.is_some(), k.dtype != harness::catalogue::DType::F32, "{} vs_f32", k.id);
                        }
                        Status::Skipped { reason } if !k.requires.is_empty() => {
                            eprintln!("{} skipped on {}: {reason}", k.id, dev.report.name)
                        }
                        other => failures.push(format!("{} {} ({}) seed {seed}: {other:?}", k.id, p.case, imp.variant)),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} failures on {}:\n{}", failures.len(), dev.report.name, failures.join("\n"));
}

#[test]
fn every_kernel_matches_its_reference_on_vulkan_with_several_seeds() {
    let _gpu = exclusive();
    let Some(dev) = device("vulkan") else { return };
    run_all(&dev, &[1, 2, 3], &[]);
}

/// GL (llvmpipe) compiles shaders very slowly when cold (minutes for the tiled kernels), so it
/// runs the light kernels here; `accelbench native --quick` covers the rest on every adapter.
#[test]
fn light_kernels_match_on_gl() {
    let _gpu = exclusive();
    let Some(dev) = device("gl") else { return };
    run_all(&dev, &[4], &["softmax", "gelu-erf", "rmsnorm", "kvcache-decode"]);
}

#[test]
fn a_missing_feature_is_skipped_with_the_feature_named() {
    let _gpu = exclusive();
    let adapters = pollster::block_on(gpu::native_adapters());
    let Some(a) = adapters.into_iter().find(|a| gpu::adapter_report(a).backend == "vulkan") else {
        assert!(!gpu_required(), "no Vulkan adapter");
        return;
    };
    let dev = pollster::block_on(GpuDevice::open_with(&a, wgpu_features_without_f16())).unwrap();
    let k = KERNELS.iter().find(|k| k.id == "matmul-f16").unwrap();
    let p = &Params::from(&k.quick[0]);
    let inputs = k.imp.inputs(p, 1).unwrap();
    let r = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &[], None, &opts(1)));
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
    let _gpu = exclusive();
    let Some(dev) = device("vulkan") else { return };
    let k = KERNELS.iter().find(|k| k.id == "softmax").unwrap();
    let p = &Params::from(&k.quick[0]);
    let inputs = k.imp.inputs(p, 1).unwrap();
    let mut expected = k.imp.reference(p, &inputs);
    expected[5] += 0.5;
    let r = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, None, &opts(1)));
    assert!(matches!(r.status, Status::Mismatch { .. }), "{:?}", r.status);
    let c = r.check.unwrap();
    assert_eq!((c.passed, c.worst_index, c.failing_elements), (false, Some(5), 1));
    assert!(r.timing.is_none() && r.throughput.is_none());
}

#[test]
fn timestamps_and_host_fences_both_time_the_same_kernel() {
    let _gpu = exclusive();
    let Some(dev) = device("vulkan") else { return };
    let k = KERNELS.iter().find(|k| k.id == "kvcache-stream").unwrap();
    let p = &Params::from(&k.quick[0]);
    let inputs = k.imp.inputs(p, 1).unwrap();
    let expected = k.imp.reference(p, &inputs);
    let ts = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, None, &opts(1)));
    let t = ts.timing.unwrap();
    assert_eq!(t.timer.kind, harness::schema::TimerKind::GpuTimestamp);
    // Prefill plus one phase per decode step: per-token latency is visible.
    assert_eq!(t.phases.len(), 1 + p.get("steps") as usize);
    assert_eq!(t.phases[1].label, "step 0");

    let fence = RunOptions { use_timestamps: false, ..opts(1) };
    let hf = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, None, &fence));
    let t = hf.timing.unwrap();
    assert_eq!(t.timer.kind, harness::schema::TimerKind::HostFence);
    assert!(t.phases.is_empty());
}

/// The autotuner on lavapipe: it times every variant of the row kernels, picks the fastest, and
/// that choice is never slower than the kernel's own implementation measured beside it; the
/// second run of the same case takes the choice from the cache without tuning.
#[test]
fn the_tuned_variant_is_never_slower_than_the_default_and_is_cached() {
    use harness::autotune::{AutotuneMode, AutotuneOptions};
    use harness::schema::AutotuneHow;
    let _gpu = exclusive();
    let Some(dev) = device("vulkan") else { return };
    let tuning = AutotuneOptions { mode: AutotuneMode::Cached, ..AutotuneOptions::default() };
    for id in ["softmax", "layernorm", "rmsnorm"] {
        let k = KERNELS.iter().find(|k| k.id == id).unwrap();
        let p = &Params::from(&k.quick[0]);
        let inputs = k.imp.inputs(p, 1).unwrap();
        let expected = k.imp.reference(p, &inputs);
        let o = RunOptions { autotune: tuning.clone(), ..opts(1) };
        let tuned = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, None, &o));
        assert_eq!(tuned.status, Status::Measured);
        let how = tuned.autotune.as_ref().unwrap();
        assert_eq!(how.how, AutotuneHow::Tuned, "{id}: {how:?}");
        assert_eq!(how.candidates.len(), k.implementations().len(), "{id}: every variant timed");
        let chosen = tuned.variant.clone().unwrap();
        let fastest = harness::autotune::winner(&how.candidates).map(|i| how.candidates[i].variant.clone());
        assert_eq!(Some(&chosen), fastest.as_ref(), "{id}: the fastest candidate runs: {how:?}");

        let again = pollster::block_on(gpu::run_kernel(&dev, k, p, &inputs, &expected, None, &o));
        let hit = again.autotune.as_ref().unwrap();
        assert_eq!((hit.how, again.variant.as_ref()), (AutotuneHow::CacheHit, Some(&chosen)), "{id}");

        // The choice and the default measured side by side, samples interleaved.
        let job = |variant| gpu::Job {
            kernel: k,
            params: p,
            inputs: &inputs,
            expected: &expected,
            f32_result: None,
            variant: Some(variant),
        };
        let side_by_side = RunOptions { sampling: harness::measure::SamplingConfig::quick(), ..opts(1) };
        let jobs = [job(harness::catalogue::DEFAULT_VARIANT), job(chosen.as_str())];
        let r = pollster::block_on(gpu::run_interleaved(&dev, &jobs, &side_by_side));
        let median = |r: &harness::schema::Record| r.timing.as_ref().unwrap().summary.median_ns;
        let (default, tuned) = (median(&r[0]), median(&r[1]));
        eprintln!("{id} on {}: default {default:.0} ns, {chosen} {tuned:.0} ns", dev.report.name);
        // 10% for the noise of a few interleaved samples on a shared 2-core VM.
        assert!(
            tuned <= 1.1 * default,
            "{id}: the tuned {chosen} ({tuned:.0} ns) is slower than the default ({default:.0} ns)"
        );
        assert_eq!(r[1].autotune.as_ref().unwrap().how, AutotuneHow::Fixed);
    }
}

mod verdicts {
    //! The regression verdict on real measurements, each side made of rounds (fresh buffers and
    //! pipelines each round, the two sides interleaved within a round, so compared round by
    //! round): the same kernel twice is never `slower`, from one round a side or five; a variant
    //! doing 50% more work is, from seven. Separate invocations are `runner/tests/verdicts.rs`'s.

    use super::*;
    use harness::catalogue::ParamSet;
    use harness::compare::{Outcome, compare_runs};
    use harness::measure::SamplingConfig;
    use harness::schema::Record;
    use harness::stats::Verdict;

    /// `rounds` rounds of the two parameter sets of matmul-f32, each round's samples
    /// interleaved; the records come back as the two sides, each round a unit.
    fn measure_rounds(dev: &GpuDevice, a: &Params, b: &Params, rounds: u32) -> (Vec<Record>, Vec<Record>) {
        let k = KERNELS.iter().find(|k| k.id == "matmul-f32").unwrap();
        let (ia, ib) = (k.imp.inputs(a, 9).unwrap(), k.imp.inputs(b, 9).unwrap());
        let (ea, eb) = (k.imp.reference(a, &ia), k.imp.reference(b, &ib));
        let sampling = SamplingConfig {
            warmup: 2,
            min_samples: 20,
            max_samples: 100,
            target_rel_ci: 0.02,
            time_budget_ns: 1e9,
            min_resolutions_per_sample: 20.0,
        };
        let (mut base, mut cand) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let jobs = [
                gpu::Job { kernel: k, params: a, inputs: &ia, expected: &ea, f32_result: None, variant: None },
                gpu::Job { kernel: k, params: b, inputs: &ib, expected: &eb, f32_result: None, variant: None },
            ];
            let opts = RunOptions { sampling: sampling.clone(), ..opts(9) };
            let mut r = pollster::block_on(gpu::run_interleaved(dev, &jobs, &opts));
            let (mut rb, mut ra) = (r.pop().unwrap(), r.pop().unwrap());
            assert_eq!((&ra.status, &rb.status), (&Status::Measured, &Status::Measured));
            // Both sides of a round were measured together: the comparison pairs them.
            for rec in [&mut ra, &mut rb] {
                rec.provenance.run_id = Some("interleaved".into());
                rec.provenance.round = Some(round);
            }
            base.push(ra);
            cand.push(rb);
        }
        (base, cand)
    }

    fn verdict(base: &[Record], cand: &[Record]) -> Verdict {
        match &compare_runs(base, cand, 0.05)[0].outcome {
            Outcome::Compared { verdict, ratio, spread, .. } => {
                eprintln!(
                    "ratio {:.3} ({:.3} - {:.3}), {}: {}",
                    ratio.ratio,
                    ratio.low,
                    ratio.high,
                    spread.describe(),
                    verdict.label()
                );
                *verdict
            }
            other => panic!("not compared: {other:?}"),
        }
    }

    const BASE: ParamSet = ParamSet { case: "planted", values: &[("m", 192), ("n", 192), ("k", 192), ("batch", 1)] };
    /// 50% more multiply-adds (k 192 -> 288) under the same name: what a regression looks like to
    /// the verdict. Lavapipe's paired rounds have spread up to 20% on this 2-core VM (seen in
    /// CI), where seven rounds resolve a 50% step but not always a 20% one (session 6 caught
    /// 20% at 1.236, 1.166-1.311, on a quieter run).
    const HEAVIER: ParamSet = ParamSet { case: "planted", values: &[("m", 192), ("n", 192), ("k", 288), ("batch", 1)] };

    #[test]
    fn the_same_kernel_twice_is_never_slower() {
        let _gpu = exclusive();
        let Some(dev) = device("vulkan") else { return };
        // One round a side: within the CPU-class floor, whatever the two instances did.
        let (a, b) = measure_rounds(&dev, &(&BASE).into(), &(&BASE).into(), 1);
        let v = verdict(&a, &b);
        assert!(matches!(v, Verdict::Unchanged | Verdict::Inconclusive), "A/A, one round: {v:?}");
        // Five rounds a side: the spread between rounds is in the interval.
        let (a, b) = measure_rounds(&dev, &(&BASE).into(), &(&BASE).into(), 5);
        let v = verdict(&a, &b);
        assert!(matches!(v, Verdict::Unchanged | Verdict::Inconclusive), "A/A, five rounds: {v:?}");
    }

    #[test]
    fn a_planted_50_percent_regression_is_slower() {
        let _gpu = exclusive();
        let Some(dev) = device("vulkan") else { return };
        // Noise may leave a trial inconclusive (the verdict is conservative by design), but a
        // heavier kernel must never look unchanged or faster, and must be caught within three.
        for trial in 0..3 {
            let (base, cand) = measure_rounds(&dev, &(&BASE).into(), &(&HEAVIER).into(), 7);
            match verdict(&base, &cand) {
                Verdict::Slower => {
                    assert_eq!(verdict(&cand, &base), Verdict::Faster);
                    return;
                }
                Verdict::Inconclusive => eprintln!("trial {trial}: inconclusive, measuring again"),
                v => panic!("a 50% heavier kernel was called {v:?}"),
            }
        }
        panic!("a 50% heavier kernel was not called slower in three trials of seven rounds");
    }
}

/// Every model family at a small quick shape on lavapipe (decoders, BERT, Whisper's audio
/// encoder): checked against the f64 reference (step by step under forced decoding for
/// decoders), then measured with per-token or per-input figures.
#[test]
fn models_run_checked_with_per_token_metrics_on_lavapipe() {
    use harness::model::{preset, quick, reference::Reference, run::prepare};
    let _g = exclusive();
    let Some(dev) = device("vulkan") else { return };
    for id in ["gpt2-small", "llama-3.2-1b", "qwen2.5-0.5b", "bert-base", "whisper-tiny"] {
        let cfg = quick(&(preset(id).unwrap().config)());
        let m = prepare(&Reference, &cfg, 20, 6, 5).unwrap();
        let job = m.job(id, "quick", "f64 reference");
        let r = pollster::block_on(gpu::run_model(&dev, &job, &opts(5)));
        assert_eq!(r.status, Status::Measured, "{id}: {:?}", r.status);
        assert!(r.check.as_ref().is_some_and(|c| c.passed && c.elements as usize == m.graph.output_len()));
        let mm = r.model.as_ref().unwrap();
        assert!(mm.device_bytes.weights > 0 && mm.device_bytes.total > mm.device_bytes.weights);
        if id == "bert-base" || id == "whisper-tiny" {
            assert_eq!(mm.generated_tokens, 0);
            assert!(mm.encoder_latency_ns.is_some_and(|ns| ns > 0.0), "{id}: {mm:?}");
        } else {
            assert!(mm.ttft_ns.is_some_and(|ns| ns > 0.0), "{id}: {mm:?}");
            assert!(mm.decode_tokens_per_s.is_some_and(|v| v > 0.0));
            let lat = mm.token_latency_ns.expect("timestamps give per-step times");
            assert!(lat.p50_ns > 0.0 && lat.p50_ns <= lat.p99_ns);
            assert!(mm.host_token_latency_ns.is_some_and(|h| h.n == 3 * 6));
            // The device's own argmax agrees with the reference's greedy choice at least at
            // first (random weights leave wide margins at the first step).
            assert!(mm.greedy_tokens_matched.is_some_and(|n| n >= 1), "{id}: {mm:?}");
        }
    }
    // Quantised weights: the q8/q4 GEMM (prompt) and GEMV (decode steps) inside the model,
    // checked against the f64 reference of the same quantised model; fp16: every node's f16
    // kernel, checked against the reference that rounds each output to f16 as the device
    // stores it. Each with the distance from the f32 weights' output in the record.
    use harness::model::ModelPrecision;
    let (q8, q4) = (harness::quant::QuantFormat::Q8, harness::quant::QuantFormat::Q4);
    let runs = [
        ("llama-3.2-1b", ModelPrecision::Quant(q8)),
        ("llama-3.2-1b", ModelPrecision::Quant(q4)),
        ("llama-3.2-1b", ModelPrecision::F16),
        ("gpt2-small", ModelPrecision::F16),
        ("bert-base", ModelPrecision::F16),
    ];
    for (id, precision) in runs {
        let chosen = harness::model::Chosen { id: id.into(), config: quick(&(preset(id).unwrap().config)()) };
        let size = harness::schema::Size::Quick;
        let mc = harness::model::run::ModelCase::new(&chosen, size, Some(12), Some(4), precision);
        let m = mc.prepare(&Reference, 5).unwrap();
        let job = m.job(id, "quick", "f64 reference");
        let r = pollster::block_on(gpu::run_model(&dev, &job, &opts(5)));
        assert_eq!(r.status, Status::Measured, "{id} {precision:?}: {:?}", r.status);
        assert_eq!(r.dtype, precision.name());
        let lengths = if id == "bert-base" { "t12" } else { "p12-g4" };
        assert_eq!(r.case, format!("{lengths}-{}", precision.name()));
        let vs = r.check.as_ref().and_then(|c| c.vs_f32.clone()).expect("error against the f32 weights");
        assert!(vs.rel_rms_err > 0.0 && vs.rel_rms_err < 1.0, "{id} {precision:?}: {vs:?}");
        let mm = r.model.as_ref().unwrap();
        assert!(id == "bert-base" || mm.decode_tokens_per_s.is_some());
        if precision == ModelPrecision::F16 {
            // Half the f32 model's bytes for every weight (the LM head's logits stay f32).
            let f32_case = harness::model::run::ModelCase::new(&chosen, size, Some(12), Some(4), ModelPrecision::F32);
            let f32_weights = f32_case.graph.unwrap().bytes(harness::model::graph::TensorKind::Weight);
            assert_eq!(2 * mm.device_bytes.weights, f32_weights, "{id}");
            assert!(vs.rel_rms_err < 1e-2, "{id}: fp16 storage is within 1% RMS of f32: {vs:?}");
        }
    }
}

/// A quick decoder's whole training step (forward, loss, backward through every layer, AdamW)
/// on lavapipe, 20 steps on one fixed batch: measured, its loss curve within tolerance of the
/// f64 reference's from the same weights, and falling.
#[test]
fn quick_decoders_train_on_lavapipe_and_their_loss_falls() {
    use harness::model::{Chosen, preset, quick};
    use harness::train::run::TrainCase;
    let _g = exclusive();
    let Some(dev) = device("vulkan") else { return };
    for id in ["gpt2-small", "llama-3.2-1b"] {
        let chosen = Chosen { id: id.into(), config: quick(&(preset(id).unwrap().config)()) };
        let case = TrainCase::new(&chosen, harness::schema::Size::Quick);
        let prep = case.prepare(5).unwrap();
        let r = pollster::block_on(gpu::run_training(&dev, &case, &prep, &opts(5)));
        assert_eq!(r.status, Status::Measured, "{id}: {:?}", r.status);
        assert_eq!(r.mode, harness::schema::Mode::Training);
        let t = r.training.as_ref().unwrap();
        assert_eq!(t.losses.len(), 20);
        assert!(t.losses[19] < 0.8 * t.losses[0], "{id}: {:?}", t.losses);
        assert!(t.max_loss_rel_err < 5e-2 && t.steps_per_s > 0.0 && t.tokens_per_s > 0.0, "{id}: {t:?}");
    }
}
