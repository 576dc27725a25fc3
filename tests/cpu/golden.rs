//! Golden JSON for every wire type: each type's representative value must serialise to exactly
//! the checked-in file under tests/data/golden/ and parse back to itself, so a change to the
//! page protocol, the HTTP API or the record is a visible diff in review, never an accident.
//! `ACCELBENCH_BLESS=1 cargo test -p accelbench-tests --test cpu golden` rewrites the files.

use std::collections::BTreeMap;
use std::fmt::Debug;

use harness::catalogue::Size;
use harness::schema::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn golden<T: Serialize + DeserializeOwned + PartialEq + Debug>(name: &str, value: &T) {
    let path = super::repo_root().join("tests/data/golden").join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var("ACCELBENCH_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with ACCELBENCH_BLESS=1 cargo test -p accelbench-tests --test cpu golden",
            path.display()
        )
    });
    assert_eq!(
        text, want,
        "{name}: the wire format changed; if that is intended (additive within schema v1), rerun with ACCELBENCH_BLESS=1 and review the diff"
    );
    let back: T =
        serde_json::from_str(&want).unwrap_or_else(|e| panic!("{name}: the golden file does not parse back: {e}"));
    assert_eq!(&back, value, "{name}: does not round-trip");
}

fn record() -> Record {
    let line = include_str!("../data/record-v1.json").replace('\n', "");
    parse_jsonl(&line).unwrap().remove(0)
}

fn browser() -> BrowserInfo {
    BrowserInfo {
        name: "chrome".into(),
        version: "131.0.6778.85".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131".into(),
        flags: vec!["--enable-unsafe-webgpu".into(), "--enable-webgpu-developer-features".into()],
        cross_origin_isolated: true,
        webdriver: None,
    }
}

/// A backward record pairs with its forward of the same case and backend, and the report says
/// how many times the forward's time the backward took; unpaired records add nothing.
#[test]
fn training_vs_inference_pairs_each_backward_with_its_forward() {
    use harness::schema::Mode;
    let mut fwd = record();
    fwd.kernel = "softmax".into();
    fwd.case = "64x1000".into();
    let mut bwd = fwd.clone();
    bwd.kernel = "softmax-backward".into();
    bwd.mode = Mode::Training;
    let scale = |r: &mut Record, x: f64| {
        let t = r.timing.as_mut().expect("the sample record is measured");
        t.summary.median_ns *= x;
    };
    scale(&mut bwd, 2.5);
    let md = harness::format::training_markdown(&[fwd.clone(), bwd.clone()]);
    assert!(md.contains("## Training vs inference"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| softmax |")).unwrap_or_else(|| panic!("{md}"));
    assert!(row.contains("| 64x1000 |") && row.trim_end().ends_with("| 2.50x |"), "{row}");
    bwd.case = "3x4099".into();
    assert_eq!(harness::format::training_markdown(&[fwd, bwd]), "");
}

#[test]
fn golden_record_and_page_protocol() {
    golden("record", &record());
    golden(
        "page-run-config",
        &PageRunConfig {
            kernels: vec!["softmax".into(), "matmul".into()],
            models: vec!["gpt2-small".into(), "whisper-tiny".into()],
            prompt: Some(64),
            generate: Some(8),
            model_weights: vec!["f32".into(), "q4".into()],
            cases: vec!["matmul-f32:m=96,n=80,k=64".into()],
            sweeps: vec!["softmax:cols=128..1024x2".into()],
            size: Size::Quick,
            backends: vec![PageBackendChoice::Webgpu, PageBackendChoice::Wasm],
            seed: 7,
            budget_s: Some(0.5),
            min_samples: Some(5),
            dtypes: vec!["f32".into()],
            modes: vec!["training".into()],
            commit: Some("abc1234".into()),
            flags: vec!["--enable-unsafe-webgpu".into()],
            post: Some(false),
            run_id: Some("run-1-chrome-1".into()),
            skip: vec![case_key("softmax", "64x1000", "chrome-webgpu")],
            shuffle: Some(42),
            shard: Some(Shard { index: 1, count: 2 }),
            fault: None,
            autotune: Some("full".into()),
        },
    );
    golden("page-run-config-default", &PageRunConfig::default());
    golden(
        "page-state",
        &PageState {
            phase: PagePhase::Running,
            run_id: Some("run-1".into()),
            done: 3,
            total: 10,
            current: Some(PageProgress {
                kernel: "softmax".into(),
                case: "64x1000".into(),
                backend: "chrome-webgpu".into(),
                samples: 12,
                elapsed_ms: 250.5,
            }),
            labels: vec!["chrome-webgpu".into(), "chrome-wasm".into()],
            records: 3,
            elapsed_ms: 1234.5,
            error: None,
            posted: None,
        },
    );
    golden(
        "page-environment",
        &PageEnvironment {
            browser: browser(),
            webgpu: record().adapter,
            webgpu_missing: None,
            host_clock_resolution_ns: 5000.0,
            server: true,
            commit: "abc1234".into(),
            ready_ms: 812.0,
            webnn: WebnnSupport {
                context: None,
                missing: Some(
                    "navigator.ml.createContext failed (cpu: WebNN is not supported on this platform.)".into(),
                ),
            },
        },
    );
}

#[test]
fn golden_http_api() {
    golden("health", &Health { status: "ok".into(), version: "0.1.0".into(), records: 42 });
    golden("api-error", &ApiErrorBody { error: "missing field `records` (an array of schema v1 records)".into() });
    golden("run-upload", &RunUpload { id: "run-1".into(), source: "browser".into(), records: vec![record()] });
    golden("run-stored", &RunStored { id: "run-1".into(), stored: true, records: 1, message: "stored".into() });
    golden(
        "run-filter",
        &RunFilter {
            kernel: Some("softmax".into()),
            backend: None,
            browser: Some("firefox".into()),
            commit: None,
            limit: Some(20),
        },
    );
    golden(
        "run-summary",
        &vec![RunSummary {
            id: "run-1".into(),
            created_at: "2026-12-01T13:00:00.000Z".into(),
            source: "run".into(),
            status: RunStatus::Done,
            commit: Some("abc1234".into()),
            browser: Some("chrome".into()),
            records: 115,
        }],
    );
    golden(
        "run-detail",
        &RunDetail {
            run: RunMeta {
                id: "native-1".into(),
                created_at: "2026-12-01T13:00:00.000Z".into(),
                source: "native".into(),
                status: RunStatus::Failed,
                message: Some("no wgpu adapter".into()),
                commit: None,
                browser: None,
            },
            records: vec![record()],
        },
    );
    golden(
        "native-run-request",
        &NativeRunRequest {
            kernels: vec!["softmax".into()],
            cases: vec!["matmul-f32:m=96,n=80,k=64".into()],
            sweeps: vec![],
            quick: true,
            backends: vec!["wgpu".into(), "cpu".into()],
            adapter: Some("vulkan".into()),
            seed: 1,
            budget: Some(0.2),
        },
    );
    golden("native-run-started", &NativeRunStarted { id: "native-1".into(), status: RunStatus::Running });
    golden(
        "compare-query",
        &CompareQuery { base: "run-1".into(), candidate: "run-2".into(), threshold: Some("5%".into()) },
    );
    let row = CompareRow {
        kernel: "softmax".into(),
        case: "64x1000".into(),
        dtype: "f32".into(),
        backend: "native-wgpu-vulkan".into(),
        adapter: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
        verdict: "slower".into(),
        base_median_ns: Some(1000.0),
        candidate_median_ns: Some(1250.0),
        ratio: Some(1.25),
        ratio_ci_low: Some(1.2),
        ratio_ci_high: Some(1.3),
        spread: Some(CompareSpread {
            runs_base: 5,
            runs_candidate: 5,
            between_run_sd: Some(0.021),
            floor: None,
            drift: Some(1.08),
            drift_sd: Some(0.012),
            raw_ratio: 1.35,
            paired: false,
        }),
        reason: None,
    };
    let only = CompareRow {
        verdict: "only-in-base".into(),
        base_median_ns: None,
        candidate_median_ns: None,
        ratio: None,
        ratio_ci_low: None,
        ratio_ci_high: None,
        spread: None,
        ..row.clone()
    };
    golden(
        "compare-response",
        &CompareResponse { base: "run-1".into(), candidate: "run-2".into(), threshold: 0.05, matches: vec![row, only] },
    );
    golden(
        "series-filter",
        &SeriesFilter {
            kernel: Some("softmax".into()),
            case: Some("s256".into()),
            backend: Some("native-wgpu-vulkan".into()),
            machine: Some("3f2a".into()),
            adapter: None,
            metric: Some("time".into()),
            limit: Some(50),
        },
    );
    let point = |i: usize, v: f64| SeriesPoint {
        run_id: format!("run-{i}"),
        created_at: format!("2026-12-0{i}T10:00:00.000Z"),
        commit: format!("c{i}"),
        value: v,
        low: v * 0.98,
        high: v * 1.02,
        rounds: 5,
    };
    golden(
        "series",
        &vec![Series {
            kernel: "softmax".into(),
            case: "s256".into(),
            dtype: "f32".into(),
            backend: "native-wgpu-vulkan".into(),
            adapter: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            machine: "3f2a9c01d4e5".into(),
            metric: "time".into(),
            points: vec![point(1, 1000.0), point(2, 1010.0), point(3, 1300.0)],
            changes: vec![SeriesChange {
                index: 2,
                run_id: "run-3".into(),
                commit: "c3".into(),
                before: 1005.0,
                after: 1300.0,
                ratio: 1.2935,
                p_value: 0.005,
            }],
        }],
    );
}

#[test]
fn golden_cli_outputs() {
    // A model listing: the config (accelbench's own --config format), counts and memory.
    golden("model-info", &harness::model::preset("llama-3.2-1b").unwrap().info());
    golden("suite", &toml::from_str::<Suite>(include_str!("../../suites/llm-decode.toml")).unwrap());
    // A record's `peak`: softmax on lavapipe, a share of the run's bandwidth and FMA peaks.
    golden(
        "peak-share",
        &PeakShare {
            bound: "memory".into(),
            fraction: 0.025,
            memory: Some(0.025),
            compute: Some(0.005),
            peak_gbps: Some(7.89),
            peak_gflops: Some(26.23),
            against: vec!["peak-bandwidth".into(), "peak-fma-f32".into()],
        },
    );
    golden(
        "recommendation",
        &Recommendation {
            subject: "softmax".into(),
            goal: "latency".into(),
            metric: "time".into(),
            higher_is_better: false,
            cases: vec![RecommendedCase {
                case: "64x1000".into(),
                dtype: "f32".into(),
                ranking: vec![Ranked {
                    rank: 1,
                    backend: "native-cpu".into(),
                    adapter: "-".into(),
                    machine: "3f2a9c01b7de".into(),
                    value: 201500.0,
                    low: 198000.0,
                    high: 205250.0,
                    run_id: "native-1764633600000-00ab12cd".into(),
                    commit: "bed9784".into(),
                    created_at: "2026-12-02T13:00:00Z".into(),
                    runs: 3,
                }],
            }],
            no_data: vec![NoData {
                backend: "chrome-webgpu".into(),
                adapter: "SwiftShader Device (Subzero)".into(),
                machine: "0c1d2e3f4a5b".into(),
                case: "*".into(),
                reason: "no data: never measured softmax".into(),
            }],
        },
    );
    golden(
        "backends",
        &vec![
            BackendStatus {
                backend: "native-wgpu-vulkan".into(),
                available: true,
                device: Some("llvmpipe (LLVM 15.0.6, 256 bits)".into()),
                fallback: Some(true),
                driver: Some("llvmpipe".into()),
                reason: None,
                fix: None,
            },
            BackendStatus {
                backend: "native-cuda".into(),
                available: false,
                device: None,
                fallback: None,
                driver: None,
                reason: Some("no NVIDIA driver (libcuda.so) on the library path".into()),
                fix: Some("install the NVIDIA driver".into()),
            },
        ],
    );
    golden(
        "doctor-check",
        &DoctorCheck { what: "geckodriver".into(), ok: true, detail: "geckodriver 0.37.1".into(), fix: String::new() },
    );
    golden(
        "kernel-info",
        &KernelInfo {
            id: "softmax".into(),
            family: "softmax".into(),
            dtype: "f32".into(),
            mode: harness::schema::Mode::Inference,
            shader: "softmax.wgsl".into(),
            shader_hash: "0123456789abcdef".into(),
            entry_points: vec!["main".into()],
            requires: vec![],
            tolerance: "balanced".into(),
            quick: vec![CaseInfo {
                case: "64x1000".into(),
                params: BTreeMap::from([("rows".into(), 64), ("cols".into(), 1000)]),
            }],
            full: vec![],
            parameters: vec![ParamInfo { name: "rows".into(), min: 1, max: 1 << 20, doc: "rows".into() }],
            summary: "row softmax".into(),
            variants: vec![
                harness::schema::VariantInfo {
                    name: "default".into(),
                    shader: "softmax.wgsl".into(),
                    shader_hash: "0123456789abcdef".into(),
                    requires: vec![],
                },
                harness::schema::VariantInfo {
                    name: "row-per-invocation".into(),
                    shader: "softmax_row.wgsl".into(),
                    shader_hash: "fedcba9876543210".into(),
                    requires: vec![],
                },
            ],
        },
    );
    let timings = vec![
        harness::schema::CandidateTiming { variant: "default".into(), median_ns: Some(1.62e6), note: None },
        harness::schema::CandidateTiming {
            variant: "row-per-invocation".into(),
            median_ns: Some(2.86e5),
            note: Some("dropped after one sample: over 1.5x the leader".into()),
        },
    ];
    golden(
        "autotune-table",
        &harness::schema::AutotuneTable {
            schema_version: 1,
            entries: BTreeMap::from([(
                "llvmpipe|0x10005:0x0|llvmpipe|Mesa 22.3.6|softmax|default@0123+row-per-invocation@fedc|rows~64,cols~1024".into(),
                harness::schema::TunedEntry { variant: "default".into(), candidates: timings },
            )]),
        },
    );
}
