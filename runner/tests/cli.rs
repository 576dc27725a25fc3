//! The `accelbench` binary as a user runs it: arguments, exit codes, and the records of a real
//! quick native run on every adapter of this machine.

use std::collections::BTreeSet;
use std::process::{Command, Output};

fn accelbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        // `accelbench native` stores its runs in the user database: here, a scratch one.
        .env("XDG_DATA_HOME", std::env::temp_dir().join(format!("accelbench-cli-data-{}", std::process::id())))
        .env("XDG_CACHE_HOME", std::env::temp_dir().join(format!("accelbench-cli-cache-{}", std::process::id())))
        .output()
        .expect("accelbench runs")
}

fn records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn kernels_lists_the_whole_catalogue_with_requirements() {
    let out = accelbench(&["kernels", "--json"]);
    assert!(out.status.success());
    let ks = records(&out);
    let ids: Vec<&str> = ks.iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(ids, harness::catalogue::KERNELS.iter().map(|k| k.id).collect::<Vec<_>>());
    let f16 = ks.iter().find(|k| k["id"] == "matmul-f16").unwrap();
    assert_eq!(f16["requires"], serde_json::json!(["shader-f16"]));
}

#[test]
fn bad_arguments_exit_2_and_say_what_to_do() {
    let out = accelbench(&["native", "--kernels", "matmull"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("matmull") && err.contains("accelbench kernels") && err.contains("matmul-f32"), "{err}");

    let out = accelbench(&["native", "--backends", "cuda-please"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose from"));

    let out = accelbench(&["native", "--quick", "--full"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every record has every provenance field filled, and software adapters are marked as such.
fn assert_provenance(r: &serde_json::Value) {
    let p = &r["provenance"];
    for field in ["accelbench_version", "commit", "os", "arch", "cpu", "date"] {
        assert!(p[field].as_str().is_some_and(|s| !s.is_empty()), "{field} missing in {r}");
    }
    assert!(p["seed"].is_u64());
    if r["status"] == "measured" {
        let t = &r["timing"];
        assert!(t["timer"]["kind"].is_string() && t["timer"]["resolution_ns"].as_f64().unwrap() > 0.0);
        assert!(t["summary"]["median_ns"].as_f64().unwrap() > 0.0);
    }
    if r["backend"].as_str().unwrap().starts_with("native-wgpu") {
        let a = &r["adapter"];
        for field in ["name", "backend", "device_type", "driver"] {
            assert!(a[field].is_string(), "adapter.{field} missing in {r}");
        }
        assert!(a["fallback"].is_boolean());
        assert!(r["shader"]["hash"].as_str().unwrap().len() == 16);
    }
}

#[test]
fn native_quick_json_has_a_record_for_every_kernel_on_every_adapter_and_no_mismatch() {
    let out = accelbench(&["native", "--quick", "--json", "--budget", "0.05"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let recs = records(&out);
    let backends: BTreeSet<&str> = recs.iter().map(|r| r["backend"].as_str().unwrap()).collect();
    assert!(backends.contains("native-reference"), "{backends:?}");
    let require_gpu = std::env::var("ACCELBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1");
    if require_gpu {
        assert!(backends.contains("native-wgpu-vulkan"), "{backends:?}");
    }
    for b in &backends {
        for k in harness::catalogue::KERNELS {
            for p in k.quick {
                let n =
                    recs.iter().filter(|r| r["backend"] == *b && r["kernel"] == k.id && r["case"] == p.case).count();
                assert!(n >= 1, "no record for {} {} on {b}", k.id, p.case);
            }
        }
    }
    for r in &recs {
        assert_ne!(r["status"], "mismatch", "{r}");
        assert_ne!(r["status"], "failed", "{r}");
        if r["status"] == "skipped" {
            assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()));
        }
        assert_provenance(r);
        // The peaks ran first on each backend that has them, so every measured record there
        // carries its share; the reference has none (its peaks would be closed forms).
        let backend = r["backend"].as_str().unwrap();
        if r["status"] == "measured" && (backend == "native-cpu" || backend.starts_with("native-wgpu")) {
            let p = &r["peak"];
            assert!(p["fraction"].as_f64().is_some_and(|f| f > 0.0), "no share of peak: {r}");
            assert!(p["bound"] == "memory" || p["bound"] == "compute", "{p}");
            if r["family"] == "peak" {
                assert!(p["fraction"].as_f64().unwrap() <= 1.0, "{p}");
            }
        }
        if backend == "native-reference" {
            assert!(r["peak"].is_null(), "{r}");
        }
    }
}

/// A run file of `rounds` records built from the committed sample record, its samples scaled by
/// `factor`, each round a little off the others (as rounds are).
fn run_file_of(name: &str, factor: f64, rounds: u32) -> std::path::PathBuf {
    let text = include_str!("../../tests/data/record-v1.json");
    let mut lines = String::new();
    for round in 0..rounds {
        let mut r: serde_json::Value = serde_json::from_str(text).unwrap();
        let jitter = 1.0 + 0.004 * f64::from((round * 7 + name.len() as u32) % 5);
        let samples: Vec<f64> = (0..40).map(|i| 1.0e6 * factor * jitter * (1.0 + 0.01 * f64::from(i % 5))).collect();
        r["timing"]["summary"] =
            serde_json::to_value(harness::stats::Sample::new(&samples).unwrap().summary()).unwrap();
        r["timing"]["samples_ns"] = serde_json::json!(samples);
        r["provenance"]["run_id"] = serde_json::json!(name);
        if rounds > 1 {
            r["provenance"]["round"] = serde_json::json!(round);
        }
        lines.push_str(&format!("{r}\n"));
    }
    let path = std::env::temp_dir().join(format!("accelbench-cli-{}-{name}.jsonl", std::process::id()));
    std::fs::write(&path, lines).unwrap();
    path
}

fn run_file(name: &str, factor: f64) -> std::path::PathBuf {
    run_file_of(name, factor, 1)
}

#[test]
fn compare_calls_a_planted_regression_slower_from_rounds_and_exits_1() {
    let p = |f: &std::path::PathBuf| f.to_str().unwrap().to_owned();
    let (base, same, slow) = (run_file_of("base", 1.0, 5), run_file_of("same", 1.0, 5), run_file_of("slow", 1.3, 5));
    let out = accelbench(&["compare", &p(&base), &p(&same)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unchanged") && text.contains("5+5 runs"), "{text}");

    let out = accelbench(&["compare", &p(&base), &p(&slow), "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("**slower**") && md.contains("| softmax |"), "{md}");

    // A 50% threshold absorbs a 30% change: never a regression by noise or by choice of threshold.
    let out = accelbench(&["compare", &p(&base), &p(&slow), "--threshold", "50%"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn one_run_a_side_is_inconclusive_within_the_floor_and_says_how_to_get_a_verdict() {
    let p = |f: &std::path::PathBuf| f.to_str().unwrap().to_owned();
    let (base, slow, twice) = (run_file("b1", 1.0), run_file("s1", 1.3), run_file("t1", 2.0));
    // 30% is within what two runs on a CPU adapter drift apart: not a verdict, and not a failure.
    let out = accelbench(&["compare", &p(&base), &p(&slow)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("inconclusive") && text.contains("floor ±60%") && text.contains("--rounds 5"), "{text}");
    // Twice as slow is beyond any drift: slower even from one run a side.
    let out = accelbench(&["compare", &p(&base), &p(&twice)]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn malformed_result_files_are_refused_naming_the_line() {
    let bad = std::env::temp_dir().join(format!("accelbench-cli-{}-bad.jsonl", std::process::id()));
    std::fs::write(&bad, "{\"schema_version\":1,\"kernel\":\"x\"}\n").unwrap();
    let base = run_file("base2", 1.0);
    let out = accelbench(&["compare", base.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1") && err.contains("accelbench native --out"), "{err}");

    let out = accelbench(&["compare", base.to_str().unwrap(), "/nonexistent/run.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let out = accelbench(&["compare", base.to_str().unwrap(), base.to_str().unwrap(), "--threshold", "lots"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn report_renders_csv_markdown_bmf_and_github_action_benchmark() {
    let f = run_file("report", 1.0);
    let f = f.to_str().unwrap();
    let csv = accelbench(&["report", f, "--format", "csv"]);
    let csv = String::from_utf8_lossy(&csv.stdout);
    assert!(csv.starts_with("kernel,case,") && csv.lines().count() == 2, "{csv}");
    let md = String::from_utf8_lossy(&accelbench(&["report", f, "--format", "markdown"]).stdout).to_string();
    assert!(md.contains("| softmax | 64x1000 |"), "{md}");
    let bmf: serde_json::Value = serde_json::from_slice(&accelbench(&["report", f, "--format", "bmf"]).stdout).unwrap();
    let m = &bmf["softmax/64x1000/f32/native-wgpu-vulkan"]["latency"];
    assert!(m["lower_value"].as_f64().unwrap() <= m["value"].as_f64().unwrap());
    let gab: serde_json::Value =
        serde_json::from_slice(&accelbench(&["report", f, "--format", "github-action-benchmark"]).stdout).unwrap();
    assert_eq!(gab[0]["unit"], "ns");
}

#[test]
fn native_cpu_is_measured_and_absent_runtimes_are_skipped_with_the_reason() {
    let out = accelbench(&[
        "native",
        "--quick",
        "--json",
        "--budget",
        "0.02",
        "--backends",
        "cpu,cuda,rocm,mps",
        "--kernels",
        "softmax,matmul-f32",
        "--dtypes",
        "f32",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out);
    let of = |b: &str| recs.iter().filter(|r| r["backend"] == b).collect::<Vec<_>>();
    assert_eq!(of("native-cpu").len(), 4);
    assert!(of("native-cpu").iter().all(|r| r["status"] == "measured" && r["check"]["passed"] == true));
    for (b, needle) in [("native-rocm", "HIP"), ("native-mps", "macOS")] {
        assert_eq!(of(b).len(), 4, "{b}");
        for r in of(b) {
            assert_eq!(r["status"], "skipped");
            assert!(r["reason"].as_str().unwrap().contains(needle), "{r}");
            assert_provenance(r);
        }
    }
    // Here there is no NVIDIA driver: every CUDA record says what is missing. (On a CUDA machine
    // the same records are measured, which the device check covers.)
    for r in of("native-cuda") {
        if r["status"] == "skipped" {
            assert!(r["reason"].as_str().unwrap().contains("libcuda"), "{r}");
        }
    }
    assert_eq!(of("native-cuda").len(), 4);
}

#[test]
fn icd_selection_runs_native_wgpu_on_chromiums_swiftshader() {
    let out = accelbench(&["native", "--quick", "--icd", "/nonexistent/icd.json", "--kernels", "gelu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("swiftshader"));

    if !std::path::Path::new("/usr/lib/chromium/vk_swiftshader_icd.json").exists() {
        assert!(std::env::var("ACCELBENCH_REQUIRE_BROWSERS").is_err(), "Chromium's SwiftShader ICD is missing");
        eprintln!("skipping: no Chromium SwiftShader ICD");
        return;
    }
    let out = accelbench(&[
        "native",
        "--quick",
        "--backends",
        "wgpu",
        "--icd",
        "swiftshader",
        "--kernels",
        "gelu-tanh",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    assert!(!rs.is_empty());
    for r in rs {
        assert_eq!(r["backend"], "native-wgpu-vulkan");
        assert!(r["adapter"]["name"].as_str().unwrap().contains("SwiftShader"), "{}", r["adapter"]);
        assert_eq!(r["status"], "measured");
    }
}

#[test]
fn a_user_case_is_measured_with_exactly_its_parameters() {
    let out = accelbench(&[
        "native",
        "--quick",
        "--case",
        "matmul-f32:m=96,n=80,k=64",
        "--backends",
        "wgpu,cpu,reference",
        "--adapter",
        "vulkan",
        "--json",
        "--budget",
        "0.2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    let backends: Vec<&str> = rs.iter().map(|r| r["backend"].as_str().unwrap()).collect();
    assert!(backends.contains(&"native-cpu") && backends.contains(&"native-reference"), "{backends:?}");
    if accelbench_gpu_required() {
        assert!(backends.contains(&"native-wgpu-vulkan"), "{backends:?}");
    }
    for r in &rs {
        assert_eq!(r["kernel"], "matmul-f32");
        assert_eq!(r["case"], "m=96,n=80,k=64");
        assert_eq!(r["params"], serde_json::json!({ "m": 96, "n": 80, "k": 64, "batch": 1 }));
        assert_eq!(r["status"], "measured", "{r}");
        // 2 m n k multiply-adds: the work follows the user's shape, not a catalogue one.
        assert_eq!(r["work"]["flops"].as_f64().unwrap(), 2.0 * 96.0 * 80.0 * 64.0);
    }
}

fn accelbench_gpu_required() -> bool {
    std::env::var("ACCELBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

#[test]
fn a_sweep_gives_one_record_per_point() {
    let out = accelbench(&[
        "native",
        "--quick",
        "--sweep",
        "softmax:cols=256..1024x2",
        "--sweep",
        "matmul-f32:batch=1,2,4,m=32,n=32,k=32",
        "--backends",
        "cpu",
        "--json",
        "--budget",
        "0.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let cases: Vec<(String, String)> = records(&out)
        .iter()
        .map(|r| (r["kernel"].as_str().unwrap().to_owned(), r["case"].as_str().unwrap().to_owned()))
        .collect();
    let want: Vec<(String, String)> = [
        ("softmax", "cols=256"),
        ("softmax", "cols=512"),
        ("softmax", "cols=1024"),
        ("matmul-f32", "batch=1,m=32,n=32,k=32"),
        ("matmul-f32", "batch=2,m=32,n=32,k=32"),
        ("matmul-f32", "batch=4,m=32,n=32,k=32"),
    ]
    .iter()
    .map(|(k, c)| ((*k).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(cases, want);
}

#[test]
fn a_bad_case_exits_2_naming_the_key_and_the_accepted_ones() {
    let out = accelbench(&["native", "--case", "matmul-f32:m=96,rows=3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no parameter `rows`") && err.contains("m (1..=") && err.contains("batch (1..=65535"),
        "{err}"
    );

    let out = accelbench(&["native", "--case", "attention-sliding:window=5000"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`window` = 5000 is outside 1..=1024"), "{err}");

    let out = accelbench(&["run", "--browsers", "chrome", "--sweep", "softmax:cols=8..2x2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("starts above its end"));
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(["kernels", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the pipe before it writes, as `| true` does: its first write meets a closed pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_suite_file_is_the_whole_selection_and_a_bad_one_exits_2_naming_the_field() {
    let dir = std::env::temp_dir().join(format!("accelbench-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let suite = dir.join("suite.toml");
    std::fs::write(
        &suite,
        r#"
size = "quick"
seed = 3
budget_s = 0.1
kernels = ["softmax"]
cases = ["matmul-f32:m=32,n=16,k=8"]
sweeps = ["gelu-tanh:len=1024,4096"]
native = ["cpu", "reference"]
"#,
    )
    .unwrap();
    let out = accelbench(&["native", "--suite", suite.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    let got: BTreeSet<(String, String, String)> = rs
        .iter()
        .map(|r| {
            (
                r["kernel"].as_str().unwrap().into(),
                r["case"].as_str().unwrap().into(),
                r["backend"].as_str().unwrap().into(),
            )
        })
        .collect();
    let softmax: Vec<String> = harness::catalogue::KERNELS
        .iter()
        .find(|k| k.id == "softmax")
        .unwrap()
        .quick
        .iter()
        .map(|p| p.case.to_owned())
        .collect();
    let mut want = BTreeSet::new();
    for b in ["native-cpu", "native-reference"] {
        for c in &softmax {
            want.insert(("softmax".into(), c.clone(), b.into()));
        }
        want.insert(("matmul-f32".into(), "m=32,n=16,k=8".into(), b.into()));
        want.insert(("gelu-tanh".into(), "len=1024".into(), b.into()));
        want.insert(("gelu-tanh".into(), "len=4096".into(), b.into()));
    }
    assert_eq!(got, want);
    assert!(rs.iter().all(|r| r["provenance"]["seed"] == 3 && r["size"] == "quick"));

    // The checked-in example parses and selects cases (without measuring: a bad dtype filter
    // would fail before any work, so ask for the listing by running nothing natively).
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../suites/llm-decode.toml");
    let s: harness::schema::Suite = toml::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    assert!(harness::cases::select(&s.kernels, &s.cases, &s.sweeps, s.size).is_ok());

    std::fs::write(&suite, "kernels = [\"softmax\"]\nbudget = 0.1\n").unwrap();
    let out = accelbench(&["native", "--suite", suite.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `budget`") && err.contains("budget_s") && err.contains("line 2"), "{err}");

    std::fs::write(&suite, "cases = [\"softmax:rowz=3\"]\nnative = [\"cpu\"]\n").unwrap();
    let out = accelbench(&["native", "--suite", suite.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rowz") && err.contains("in the suite"), "{err}");

    let out = accelbench(&["native", "--suite", suite.to_str().unwrap(), "--kernels", "gelu"]);
    assert_eq!(out.status.code(), Some(2), "a flag the suite owns is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    let out = accelbench(&["run", "--suite", suite.to_str().unwrap(), "--browsers", "chrome"]);
    assert_eq!(out.status.code(), Some(2));

    let out = accelbench(&["native", "--suite", dir.join("missing.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the suite"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_sweep_gets_a_scaling_table_in_the_terminal_and_in_markdown() {
    let dir = std::env::temp_dir().join(format!("accelbench-scaling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_file = dir.join("sweep.jsonl");
    let out = accelbench(&[
        "native",
        "--quick",
        "--sweep",
        "softmax:cols=128..1024x2",
        "--backends",
        "cpu,reference",
        "--budget",
        "0.05",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    let at = table.find("Scaling: softmax over cols (rows=64)").unwrap_or_else(|| panic!("no scaling table:\n{table}"));
    let scaling = &table[at..];
    assert!(scaling.contains("native-cpu median") && scaling.contains("native-reference GB/s"), "{scaling}");
    for cols in ["128", "256", "512", "1024"] {
        assert!(
            scaling.lines().any(|l| l.trim_start_matches(['│', ' ']).starts_with(cols)),
            "row {cols} in\n{scaling}"
        );
    }
    let md = accelbench(&["report", out_file.to_str().unwrap(), "--format", "markdown"]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("#### Scaling: softmax over cols (rows=64)") && md.contains("| 1024 |"), "{md}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn models_lists_every_preset_and_reads_hugging_face_configs() {
    let out = accelbench(&["models", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let ms = records(&out);
    let ids: Vec<&str> = ms.iter().map(|m| m["preset"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["gpt2-small", "llama-3.2-1b", "qwen2.5-0.5b", "tinyllama-1.1b", "bert-base", "whisper-tiny", "whisper-base"]
    );
    let gpt2 = &ms[0]["scales"];
    assert_eq!((gpt2[0]["scale"].as_str(), gpt2[1]["scale"].as_str()), (Some("quick"), Some("full")));
    assert_eq!(gpt2[1]["parameters"], 124_439_808);
    assert_eq!(gpt2[1]["memory"][1]["weight_bytes"], 2 * 124_439_808u64);

    let dir = std::env::temp_dir().join(format!("accelbench-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(
        &cfg,
        r#"{"model_type": "qwen2", "hidden_size": 896, "num_attention_heads": 14, "num_key_value_heads": 2,
            "num_hidden_layers": 24, "intermediate_size": 4864, "vocab_size": 151936, "hidden_act": "silu",
            "max_position_embeddings": 32768, "rope_theta": 1000000.0, "tie_word_embeddings": true}"#,
    )
    .unwrap();
    let out = accelbench(&["models", "--config", cfg.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(records(&out)[0]["scales"][1]["parameters"], 494_032_768);

    std::fs::write(&cfg, r#"{"model_type": "qwen2", "num_attention_heads": 14}"#).unwrap();
    let out = accelbench(&["models", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing field `hidden_size`") && err.contains("config.json"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn model_runs_checked_with_token_metrics_and_refuses_what_it_cannot_hold() {
    // Quick gpt2 and an encoder on native-cpu and the f64 reference: measured, checked, with
    // the per-token schema fields filled.
    let out = accelbench(&[
        "model",
        "gpt2-small",
        "bert-base",
        "whisper-tiny",
        "--quick",
        "--backends",
        "cpu,reference",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    assert_eq!(rs.len(), 6);
    for r in &rs {
        assert_eq!(r["status"], "measured", "{r}");
        assert_eq!(r["family"], "model");
        assert_eq!(r["check"]["passed"], true);
        assert_provenance(r);
        let m = &r["model"];
        assert!(m["device_bytes"]["weights"].as_u64().unwrap() > 0);
        if r["kernel"] == "gpt2-small" {
            assert_eq!(r["case"], "p32-g16");
            assert!(m["ttft_ns"].as_f64().unwrap() > 0.0);
            assert!(m["decode_tokens_per_s"].as_f64().unwrap() > 0.0);
            assert!(
                m["token_latency_ns"]["p99_ns"].as_f64().unwrap() >= m["token_latency_ns"]["p50_ns"].as_f64().unwrap()
            );
            assert_eq!(m["checked_against"], "f64 reference, forced decoding");
        } else {
            // Encoders: BERT over token ids, Whisper over the log-mel of static/speech.wav.
            assert!(m["encoder_latency_ns"].as_f64().unwrap() > 0.0);
            assert_eq!(m["checked_against"], "f64 reference");
            assert_eq!(r["case"], "t32");
        }
    }
    // llama-3.2-1b at full scale: its 1 GB embedding is over any software adapter's binding
    // limit and over a small budget; skipped naming the tensor and limit, at once, no crash.
    let out =
        accelbench(&["model", "llama-3.2-1b", "--full", "--backends", "wgpu,cpu", "--memory-budget", "1GiB", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    assert!(!rs.is_empty());
    for r in &rs {
        assert_eq!(r["status"], "skipped", "{r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(reason.contains("--memory-budget") || reason.contains("embed.tokens"), "{reason}");
    }
    // Bad input exits 2 naming the fix.
    let dir = std::env::temp_dir().join(format!("accelbench-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, r#"{"model_type": "llama", "hidden_size": 64}"#).unwrap();
    let out = accelbench(&["model", "--config", cfg.to_str().unwrap(), "--quick"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("num_attention_heads"));
    let out = accelbench(&["model", "gpt3", "--quick"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("presets: gpt2-small"));
    // Quantised weights: checked against the same quantised model, with the error against the
    // f32 weights; an unknown precision names the accepted ones.
    let out = accelbench(&["model", "gpt2-small", "--quick", "--weights", "q8", "--backends", "cpu", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    assert_eq!(rs.len(), 1);
    assert_eq!((rs[0]["dtype"].as_str(), rs[0]["status"].as_str()), (Some("q8"), Some("measured")));
    assert!(rs[0]["check"]["vs_f32"]["rel_rms_err"].as_f64().unwrap() > 0.0);
    let out = accelbench(&["model", "gpt2-small", "--quick", "--weights", "q3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("f32, f16, q8 or q4"));
    let out = accelbench(&["model", "gpt2-small", "--memory-budget", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2GiB"));
}

/// `--train` keeps the training kernels alone (every backward, the loss, AdamW), each checked
/// on native-cpu and marked `mode: training`; `--mode` with a typo exits 2 naming the choices.
#[test]
fn train_selects_the_training_kernels_and_native_cpu_runs_them() {
    let out = accelbench(&["native", "--quick", "--train", "--backends", "cpu", "--json", "--budget", "0.05"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    let mut ids: Vec<&str> = rs.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 14, "{ids:?}");
    for r in &rs {
        assert_eq!(r["mode"], "training", "{r}");
        assert_eq!(r["status"], "measured", "{r}");
        assert_eq!(r["check"]["passed"], true, "{r}");
    }
    let out = accelbench(&["native", "--quick", "--mode", "train"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`train`") && err.contains("inference, training"), "{err}");
}

/// `accelbench model --train`: a quick decoder trains on lavapipe and on native-cpu, its loss
/// falling and within tolerance of the f64 reference's; an encoder is skipped naming why.
#[test]
fn model_train_trains_a_decoder_and_skips_an_encoder() {
    if !accelbench_gpu_required() {
        eprintln!("needs lavapipe (set ACCELBENCH_REQUIRE_GPU=1)");
        return;
    }
    let out = accelbench(&[
        "model",
        "gpt2-small",
        "bert-base",
        "--quick",
        "--train",
        "--backends",
        "wgpu,cpu",
        "--adapter",
        "vulkan",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rs = records(&out);
    assert_eq!(rs.len(), 4, "two models on two backends");
    for r in &rs {
        assert_eq!(r["mode"], "training");
        match (r["kernel"].as_str().unwrap(), r["backend"].as_str().unwrap()) {
            ("gpt2-small", "native-wgpu-vulkan" | "native-cpu") => {
                assert_eq!(r["status"], "measured", "{r}");
                assert_eq!(r["case"], "train-t32");
                let t = &r["training"];
                let losses: Vec<f64> = t["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                assert!(losses.len() == 20 && losses[19] < 0.8 * losses[0], "{losses:?}");
                assert!(t["max_loss_rel_err"].as_f64().unwrap() < 5e-2);
                assert!(t["tokens_per_s"].as_f64().unwrap() > 0.0);
                // Timed on the host clock with its measured resolution; every shader named.
                assert_eq!(r["timing"]["timer"]["kind"], "host-clock", "{r}");
                assert!(r["timing"]["timer"]["resolution_ns"].as_f64().unwrap() > 0.0);
                assert_eq!(r["timing"]["samples_ns"].as_array().unwrap().len(), 19, "the first step apart");
                assert!(r["provenance"]["commit"].is_string());
                if r["backend"] == "native-wgpu-vulkan" {
                    assert!(r["adapter"]["name"].is_string());
                    assert!(r["shader"]["file"].as_str().unwrap().contains("attention_grad.wgsl"));
                }
            }
            ("bert-base", _) => assert!(r["reason"].as_str().unwrap().contains("not a decoder"), "{r}"),
            other => panic!("unexpected record {other:?}"),
        }
    }
}

#[test]
fn bad_rounds_metrics_and_baselines_are_refused_naming_the_fix() {
    let out = accelbench(&["native", "--quick", "--kernels", "softmax", "--rounds", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rounds must be at least 1"));
    let out = accelbench(&["history", "--metric", "speed"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose time, tokens-per-s or memory"));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    let out = accelbench(&[
        "native",
        "--quick",
        "--kernels",
        "softmax",
        "--baseline",
        "no-such-run",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no stored run no-such-run") && err.contains("latest"), "{err}");
    let out = accelbench(&["history", "--kernel", "softmax", "--db", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no stored runs match"));
}

/// A database seeded by two real runs of softmax: `recommend` ranks every target that measured
/// it (rank 1 first, each naming a stored run as evidence), lists what never measured matmul
/// as `no data` instead of guessing, and refuses a goal a kernel has no figure for.
#[test]
fn recommend_ranks_stored_targets_names_its_evidence_and_says_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let db = db.to_str().unwrap();
    let mut runs = BTreeSet::new();
    for _ in 0..2 {
        let out = accelbench(&[
            "native",
            "--quick",
            "--kernels",
            "softmax",
            "--backends",
            "cpu,wgpu",
            "--budget",
            "0.02",
            "--db",
            db,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let id = err.split("stored as run ").nth(1).and_then(|t| t.split_whitespace().next()).expect(&err);
        runs.insert(id.to_owned());
    }
    let out = accelbench(&["recommend", "--kernel", "softmax", "--for", "latency", "--db", db, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = rec["cases"].as_array().unwrap();
    let quick = harness::cases::kernel_by_id("softmax").unwrap().quick.len();
    assert_eq!(cases.len(), quick, "{rec}");
    for c in cases {
        let ranking = c["ranking"].as_array().unwrap();
        assert!(ranking.iter().any(|r| r["backend"] == "native-cpu"), "{c}");
        assert_eq!(ranking[0]["rank"], 1);
        let ranks: Vec<u64> = ranking.iter().map(|r| r["rank"].as_u64().unwrap()).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        for r in ranking {
            assert!(runs.contains(r["run_id"].as_str().unwrap()), "evidence is a stored run: {r}");
            assert_eq!(r["runs"], 2);
            assert!(r["low"].as_f64().unwrap() <= r["value"].as_f64().unwrap());
        }
    }

    let out = accelbench(&["recommend", "--kernel", "matmul-f32", "--db", db]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no data") && text.contains("never measured matmul-f32") && text.contains("native-cpu"),
        "{text}"
    );

    let out = accelbench(&["recommend", "--model", "gpt2-small", "--for", "memory", "--db", db, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rec["cases"].as_array().unwrap().is_empty());
    assert!(rec["no_data"].as_array().unwrap().iter().all(|n| n["reason"] == "no data: never measured gpt2-small"));

    let out = accelbench(&["recommend", "--kernel", "softmax", "--for", "memory", "--db", db]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model PRESET"));
    let out = accelbench(&["recommend", "--kernel", "softmax", "--for", "speed", "--db", db]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose latency, throughput or memory"));
}

/// `accelbench predict` from a stored sweep: a case between measured shapes gets a time from
/// the roofline over the fitted efficiency curve, with its held-out error; a measured case
/// shows its measurement beside the prediction (held out of the fit); a case beyond the
/// measured range, a kernel never measured and a model without enough measured models abstain
/// naming why; a bad case spec exits 2 naming the kernel's keys.
#[test]
fn predict_estimates_between_measured_shapes_and_abstains_beyond_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("predict.db");
    let db = db.to_str().unwrap();
    let out = accelbench(&[
        "native",
        "--quick",
        "--kernels",
        "peak",
        "--sweep",
        "softmax:rows=64,cols=256..8192x2",
        "--backends",
        "cpu",
        "--budget",
        "0.05",
        "--db",
        db,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let predict = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["predict", "--backend", "native-cpu", "--quick", "--db", db, "--json"];
        all.extend_from_slice(args);
        let out = accelbench(&all);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let p = predict(&["--case", "softmax:rows=64,cols=3000"]);
    assert!(p["abstained"].is_null(), "{p}");
    let (t, lo, hi, roof) = (
        p["predicted_ns"].as_f64().unwrap(),
        p["low_ns"].as_f64().unwrap(),
        p["high_ns"].as_f64().unwrap(),
        p["roofline_ns"].as_f64().unwrap(),
    );
    assert!(lo <= t && t <= hi && roof > 0.0 && roof <= t, "{p}");
    assert_eq!(p["bound"], "memory", "softmax is memory-bound: {p}");
    assert_eq!(p["held_out"].as_u64(), Some(6), "six sweep points held out in turn: {p}");
    assert!(p["held_out_mdape"].as_f64().is_some_and(|e| e.is_finite() && e >= 0.0), "{p}");
    assert!(!p["evidence"].as_array().unwrap().is_empty());
    // A measured case: its measurement beside the prediction from the other five.
    let measured = predict(&["--case", "softmax:rows=64,cols=1024"]);
    assert!(measured["measured_ns"].as_f64().is_some(), "{measured}");
    assert_eq!(measured["held_out"].as_u64(), Some(5), "the measured case is held out of its own fit");

    let beyond = predict(&["--case", "softmax:rows=64,cols=60000"]);
    let why = beyond["abstained"].as_str().unwrap();
    assert!(why.contains("cols=60000") && why.contains("256..8192"), "{why}");
    assert!(beyond["predicted_ns"].is_null());
    let never = predict(&["--case", "layernorm:rows=64,cols=768"]);
    assert!(never["abstained"].as_str().unwrap().contains("no measured"), "{never}");
    let model = predict(&["--model", "gpt2-small"]);
    assert!(model["abstained"].as_str().is_some(), "no model was measured: {model}");

    let out = accelbench(&["predict", "--case", "softmax:rows=64,colz=3", "--backend", "native-cpu", "--db", db]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colz") && err.contains("cols"), "{err}");
}

/// `--autotune`: the first run tunes the row kernels' variants on every adapter and saves the
/// choices; the second takes them from the cache, and says so in every record; a cache that
/// does not parse is set aside, never deleted, and tuning starts afresh; `off` runs the
/// kernel's own implementation.
#[test]
fn a_second_native_run_takes_its_variants_from_the_autotune_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("autotune.json");
    let run = |mode: &str| {
        let out = accelbench(&[
            "native",
            "--quick",
            "--kernels",
            "softmax,layernorm",
            "--backends",
            "wgpu",
            "--no-store",
            "--json",
            "--autotune",
            mode,
            "--cache-dir",
            dir.path().to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (records(&out), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let hows = |rs: &[serde_json::Value]| -> Vec<String> {
        rs.iter().map(|r| r["autotune"]["how"].as_str().unwrap_or("none").to_owned()).collect()
    };
    let (first, _) = run("cached");
    if first.is_empty() && !accelbench_gpu_required() {
        return;
    }
    assert!(!first.is_empty() && hows(&first).iter().all(|h| h == "tuned"), "{:?}", hows(&first));
    for r in &first {
        let timed = r["autotune"]["candidates"].as_array().unwrap();
        assert_eq!(timed.len(), 2, "default and row-per-invocation: {r}");
        assert!(r["variant"].as_str().is_some_and(|v| timed.iter().any(|c| c["variant"] == v)));
    }
    let saved: harness::schema::AutotuneTable =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    assert_eq!(saved.entries.len(), first.len(), "one choice per adapter, kernel and shape bucket");

    let (second, _) = run("cached");
    assert!(hows(&second).iter().all(|h| h == "cache-hit"), "{:?}", hows(&second));
    // Vulkan devices keep a pipeline cache beside the choices: a miss first, a hit after;
    // every GPU record times its pipelines cold and warm.
    let cache_state = |rs: &[serde_json::Value]| -> Vec<String> {
        rs.iter()
            .filter(|r| r["adapter"]["backend"] == "vulkan")
            .map(|r| r["timing"]["cold"]["pipeline_cache"].as_str().unwrap_or("none").to_owned())
            .collect()
    };
    assert!(
        !cache_state(&first).is_empty() && cache_state(&first).iter().all(|s| s == "miss"),
        "{:?}",
        cache_state(&first)
    );
    assert!(cache_state(&second).iter().all(|s| s == "hit"), "{:?}", cache_state(&second));
    for r in first.iter().chain(&second) {
        let cold = &r["timing"]["cold"];
        assert!(
            cold["pipeline_ns"].as_f64().is_some_and(|v| v > 0.0)
                && cold["warm_pipeline_ns"].as_f64().is_some_and(|v| v > 0.0),
            "{cold}"
        );
        if r["adapter"]["backend"] == "gl" {
            assert_eq!(cold["pipeline_cache"], "unsupported");
        }
    }
    let pipelines = dir.path().join("pipelines");
    let bin = std::fs::read_dir(&pipelines)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "bin"))
        .unwrap();
    let mut bytes = std::fs::read(&bin).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    std::fs::write(&bin, &bytes).unwrap();
    let (_, err) = run("cached");
    assert!(err.contains("fails its checksum"), "{err}");
    assert!(bin.with_extension("bin.corrupt").exists(), "the altered cache is set aside, not deleted");
    let variants = |rs: &[serde_json::Value]| rs.iter().map(|r| r["variant"].clone()).collect::<Vec<_>>();
    assert_eq!(variants(&first), variants(&second));

    let (off, _) = run("off");
    assert!(off.iter().all(|r| r["variant"] == "default" && r["autotune"]["how"] == "off"));

    std::fs::write(&cache, "{ not json").unwrap();
    let (fresh, err) = run("cached");
    assert!(err.contains("does not parse") && err.contains("tuning afresh"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.path().join("autotune.json.corrupt")).unwrap(), "{ not json");
    assert!(hows(&fresh).iter().all(|h| h == "tuned"));

    let bad = accelbench(&["native", "--quick", "--autotune", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("choose from off, cached, full"));
}
