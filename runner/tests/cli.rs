//! The `accelbench` binary as a user runs it: arguments, exit codes, and the records of a real
//! quick native run on every adapter of this machine.

use std::collections::BTreeSet;
use std::process::{Command, Output};

fn accelbench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accelbench"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
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
    }
}
