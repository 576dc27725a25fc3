//! GPU-free checks: the shader tree and the catalogue agree, every parameter set builds, the
//! embedded speech clip is what the log-mel kernel expects, and broken WGSL breaks the build.

mod golden;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use harness::catalogue::{KERNELS, Params, Size, select};
use harness::shaders::{INCLUDES, SHADERS};

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn every_wgsl_file_is_precompiled_and_used_by_the_catalogue() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo_root().join("shaders"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    let compiled: BTreeSet<String> =
        SHADERS.iter().map(|s| s.file.to_owned()).chain(INCLUDES.iter().map(|s| (*s).to_owned())).collect();
    assert_eq!(on_disk, compiled, "build.rs must see exactly the files in shaders/");
    // The training step's in-place update is its own shader; everything else is a catalogue
    // entry's or one of its variants'.
    let cfg = harness::model::quick(&(harness::model::preset("gpt2-small").unwrap().config)());
    let g = harness::train::TrainGraph::build(&cfg, 8).unwrap();
    let (w, ids) = g.initial(1);
    let step = harness::train::lower::lower(&g, &w, &ids).plan;
    step.verify().expect("the training step's plan matches its shaders");
    let step_shaders: Vec<&str> = step.shaders().iter().map(|s| s.file).collect();
    for s in SHADERS {
        assert!(
            KERNELS.iter().any(|k| k.implementations().iter().any(|i| i.shader.file == s.file))
                || step_shaders.contains(&s.file),
            "shaders/{} is not used by any catalogue entry, variant or the training step",
            s.file
        );
        assert_eq!(s.hash.len(), 16);
    }
}

#[test]
fn every_catalogue_entry_has_its_shader_entry_points_and_requirements() {
    let mut ids = BTreeSet::new();
    for k in KERNELS {
        assert!(ids.insert(k.id), "duplicate kernel id {}", k.id);
        let mut names = BTreeSet::new();
        // A variant is the same operation in another shader: the same entry points, the
        // shader's requirements declared, the same parameters and typed operation.
        for imp in k.implementations() {
            assert!(names.insert(imp.variant), "{}: duplicate variant {}", k.id, imp.variant);
            let shader = imp.shader;
            for ep in k.entry_points {
                assert!(shader.entry_point(ep).is_some(), "{}: {} has no entry point {ep}", k.id, shader.file);
            }
            for r in shader.requires {
                assert!(imp.requires.contains(r), "{} ({}): shader requires {r}, undeclared", k.id, imp.variant);
            }
            assert_eq!(imp.imp.spec(), k.imp.spec(), "{} ({})", k.id, imp.variant);
            let p = Params::from(&k.quick[0]);
            assert_eq!(imp.imp.op(&p), k.imp.op(&p), "{} ({}): another operation", k.id, imp.variant);
            assert_eq!(imp.imp.work(&p), k.imp.work(&p), "{} ({})", k.id, imp.variant);
        }
        assert!(!k.quick.is_empty() && !k.full.is_empty(), "{}: needs quick and full parameter sets", k.id);
    }
}

#[test]
fn every_parameter_set_builds_a_consistent_plan() {
    for k in KERNELS {
        for size in [Size::Quick, Size::Full] {
            let mut cases = BTreeSet::new();
            for p in &k.params(size) {
                assert!(cases.insert(p.case.clone()), "{}: duplicate case {}", k.id, p.case);
                let w = k.imp.work(p);
                // A gather moves data without arithmetic: flops may be zero, bytes never.
                assert!(w.flops >= 0.0 && w.bytes > 0.0, "{} {}: work must be positive", k.id, p.case);
                // Full-size inputs are large; building them checks the parameters for real.
                let inputs = k.imp.inputs(p, 1).unwrap_or_else(|e| panic!("{} {}: {e}", k.id, p.case));
                let plan = k.imp.plan(k.shader(), p, &inputs);
                assert!(!plan.timed.is_empty());
                if let Err(e) = plan.verify() {
                    panic!("{} {}: {e}", k.id, p.case);
                }
                for imp in &k.implementations()[1..] {
                    let vp = imp.imp.plan(imp.shader, p, &inputs);
                    if let Err(e) = vp.verify() {
                        panic!("{} {} ({}): {e}", k.id, p.case, imp.variant);
                    }
                    assert_eq!(vp.output_len, plan.output_len, "{} {} ({})", k.id, p.case, imp.variant);
                }
                for d in plan.setup.iter().chain(&plan.timed).flat_map(|p| &p.dispatches) {
                    assert!(
                        k.entry_points.contains(&d.entry_point) || d.entry_point == "prefill",
                        "{}: undeclared {}",
                        k.id,
                        d.entry_point
                    );
                    assert!(d.bindings.iter().all(|(_, id)| *id < plan.buffers.len()));
                }
                if size == Size::Quick {
                    assert_eq!(k.imp.reference(p, &inputs).len(), plan.output_len, "{} {}", k.id, p.case);
                }
            }
        }
    }
}

/// A plan that disagrees with the WGSL it runs is caught before any GPU sees it.
#[test]
fn plans_that_disagree_with_their_shader_are_refused_naming_the_variable() {
    use harness::plan::{Dispatch, OutputType, Pass, Plan, PlanError};
    let shader = harness::shaders::by_file("softmax.wgsl");
    let build = |fields: &[(&str, harness::plan::UniformValue)],
                 bind: &dyn Fn(usize, usize, usize) -> Vec<(&'static str, usize)>| {
        let mut plan = Plan::new(shader);
        let u = plan.uniform("dims", fields);
        let x = plan.storage_f32("x", &[0.0; 8]);
        let y = plan.output("y", 8, OutputType::F32);
        plan.timed.push(Pass {
            label: "t".into(),
            dispatches: vec![Dispatch {
                shader: None,
                entry_point: "main",
                bindings: bind(u, x, y),
                workgroups: [1, 1, 1],
            }],
        });
        plan.verify()
    };
    let good = [("rows", 1u32.into()), ("cols", 8u32.into())];
    let all = |u, x, y| vec![("dims", u), ("x", x), ("y", y)];
    assert_eq!(build(&good, &all), Ok(()));

    let e = build(&[("rows", 1u32.into())], &all).unwrap_err().to_string();
    assert!(e.contains("field `cols`") && e.contains("not given"), "{e}");
    let e =
        build(&[("rows", 1u32.into()), ("cols", 8u32.into()), ("colz", 1u32.into())], &all).unwrap_err().to_string();
    assert!(e.contains("no field `colz`") && e.contains("rows, cols"), "{e}");
    let e = build(&[("rows", 1u32.into()), ("cols", 8.0f32.into())], &all).unwrap_err().to_string();
    assert!(e.contains("`cols` is U32 in WGSL but given as F32"), "{e}");
    let e = build(&good, &|u, _, y| vec![("dims", u), ("x", u), ("y", y)]).unwrap_err();
    assert!(matches!(e, PlanError::WrongKind { name: "x", wgsl: "storage", .. }), "{e}");
    let e = build(&good, &|u, x, _| vec![("dims", u), ("x", x)]).unwrap_err();
    assert!(matches!(e, PlanError::Unbound { name: "y", binding: 2, .. }), "{e}");
    let e = build(&good, &|u, x, y| vec![("dims", u), ("x", x), ("y", y), ("z", y)]).unwrap_err().to_string();
    assert!(e.contains("no bound variable `z`") && e.contains("dims, x, y"), "{e}");

    // gelu.wgsl reads vec4s: a 5-float buffer is not a whole number of elements.
    let gelu = harness::shaders::by_file("gelu.wgsl");
    let mut plan = Plan::new(gelu);
    let u = plan.uniform("dims", &[("len4", 2u32.into())]);
    let x = plan.storage_f32("x", &[0.0; 5]);
    let y = plan.output("y", 8, OutputType::F32);
    plan.timed.push(Pass {
        label: "t".into(),
        dispatches: vec![Dispatch {
            shader: None,
            entry_point: "gelu_tanh",
            bindings: vec![("dims", u), ("x", x), ("y", y)],
            workgroups: [1, 1, 1],
        }],
    });
    assert!(
        matches!(plan.verify(), Err(PlanError::Stride { name: "x", bytes: 20, stride: 16, .. })),
        "{:?}",
        plan.verify()
    );
}

#[test]
fn kernels_are_selected_by_id_or_family_in_catalogue_order() {
    let att = select(&["attention".into()]).unwrap();
    assert_eq!(
        att.iter().map(|k| k.id).collect::<Vec<_>>(),
        [
            "attention-causal",
            "attention-sliding",
            "attention-flash",
            "attention-flash-f16",
            "attention-cache",
            "attention-cache-f16",
            "attention-backward"
        ]
    );
    let two = select(&["logmel".into(), "matmul-f32".into()]).unwrap();
    assert_eq!(two.iter().map(|k| k.id).collect::<Vec<_>>(), ["matmul-f32", "logmel"]);
    // A kernel id is that kernel, even where a family has the same name.
    let softmax = select(&["softmax".into()]).unwrap();
    assert_eq!(softmax.iter().map(|k| k.id).collect::<Vec<_>>(), ["softmax"]);
    let gelu = select(&["gelu".into()]).unwrap();
    assert_eq!(
        gelu.iter().map(|k| k.id).collect::<Vec<_>>(),
        ["gelu-tanh", "gelu-tanh-f16", "gelu-erf", "gelu-erf-f16", "gelu-tanh-backward", "gelu-erf-backward"]
    );
    let err = select(&["matmull".into()]).unwrap_err().to_string();
    assert!(err.contains("matmull") && err.contains("matmul-f32") && err.contains("kvcache"), "{err}");
}

/// `--mode training` (`--train`) keeps exactly the training kernels: every backward, the loss and
/// the optimiser; `inference` the rest; an unknown mode names the choices.
#[test]
fn modes_split_the_catalogue_into_inference_and_training() {
    use harness::cases::{keep_modes, select_beside_models};
    use harness::schema::Mode;
    let all = select_beside_models(&["all".into()], &[], &[], &[], Size::Quick).unwrap();
    let mut training = all.clone();
    keep_modes(&mut training, &["training".into()]).unwrap();
    let mut ids: Vec<&str> = training.iter().map(|c| c.kernel.id).collect();
    ids.dedup();
    assert_eq!(
        ids,
        [
            "matmul-backward",
            "softmax-backward",
            "gelu-tanh-backward",
            "gelu-erf-backward",
            "silu-backward",
            "swiglu-backward",
            "layernorm-backward",
            "rmsnorm-backward",
            "embedding-backward",
            "attention-backward",
            "cross-entropy",
            "cross-entropy-f16",
            "adamw",
            "adamw-f16"
        ]
    );
    let mut inference = all.clone();
    keep_modes(&mut inference, &["inference".into()]).unwrap();
    assert_eq!(inference.len() + training.len(), all.len());
    assert!(inference.iter().all(|c| c.kernel.imp.mode() == Mode::Inference));
    let err = keep_modes(&mut all.clone(), &["train".into()]).unwrap_err().to_string();
    assert!(err.contains("`train`") && err.contains("inference, training"), "{err}");
}

#[test]
fn bad_parameters_are_refused_with_the_offending_value() {
    use harness::catalogue::Params;
    let flash = KERNELS.iter().find(|k| k.id == "attention-flash").unwrap();
    let p = Params { case: "x".into(), values: vec![("batch", 1), ("heads", 1), ("seq_len", 8), ("head_dim", 256)] };
    let e = flash.imp.inputs(&p, 1).unwrap_err().to_string();
    assert!(e.contains("head_dim") && e.contains("256"), "{e}");
}

#[test]
fn speech_clip_is_a_few_seconds_of_16khz_audio_with_signal() {
    let pcm = harness::kernels::speech_clip();
    let secs = pcm.len() as f64 / 16000.0;
    assert!((2.0..=20.0).contains(&secs), "{secs} s");
    let rms = (pcm.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
    assert!(rms > 0.01, "clip is near-silent: rms {rms}");
}

#[test]
fn schema_round_trips_and_rejects_bad_numbers_and_versions() {
    use harness::schema::parse_jsonl;
    let line = include_str!("../data/record-v1.json").replace('\n', "");
    let recs = parse_jsonl(&line).expect("sample record parses");
    assert_eq!(recs.len(), 1);
    let again = parse_jsonl(&serde_json::to_string(&recs[0]).unwrap()).unwrap();
    assert_eq!(recs, again);

    let v2 = line.replace("\"schema_version\":1", "\"schema_version\":2");
    assert!(parse_jsonl(&v2).unwrap_err().to_string().contains("schema_version 2"));
    let neg = line.replace("\"median_ns\":1500.0", "\"median_ns\":-1500.0");
    let e = parse_jsonl(&neg).unwrap_err().to_string();
    assert!(e.contains("median_ns") && e.contains("-1500"), "{e}");
    let missing = line.replace("\"kernel\":\"softmax\",", "");
    assert!(parse_jsonl(&missing).unwrap_err().to_string().contains("kernel"));
}

/// Breaking any .wgsl file breaks the build, naming the file and line.
#[test]
fn a_broken_shader_fails_the_build_with_file_and_line() {
    let tmp = std::env::temp_dir().join(format!("accelbench-broken-shaders-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for e in std::fs::read_dir(repo_root().join("shaders")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), tmp.join(e.file_name())).unwrap();
    }
    // The body lives in a fragment: the error names the fragment's own line.
    let path = tmp.join("softmax.inc.wgsl");
    let src = std::fs::read_to_string(&path).unwrap();
    let broken = src.replacen("let inv = 1.0 / s;", "let inv = 1.0 / undefined_name;", 1);
    assert_ne!(src, broken);
    std::fs::write(&path, broken).unwrap();
    let line = src.lines().position(|l| l.contains("let inv = 1.0 / s;")).unwrap() + 1;

    // A target dir of its own so the real build's outputs are untouched; the GPU stack is left
    // out (no default features), so this builds only naga and the small crates.
    let out = Command::new(env!("CARGO"))
        .args(["check", "-p", "harness", "--no-default-features", "--quiet"])
        .env("ACCELBENCH_SHADER_DIR", &tmp)
        .env("CARGO_TARGET_DIR", repo_root().join("target/broken-shader-test"))
        .current_dir(repo_root())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&tmp).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build must fail");
    assert!(stderr.contains(&format!("softmax.inc.wgsl:{line}:")), "no file:line in:\n{stderr}");
    assert!(stderr.contains("undefined_name"), "no naga message in:\n{stderr}");
}

/// Backends match on `harness::op::Op`, never on kernel ids: a new family must be a compile
/// error in each backend, not a string that silently falls into another arm.
#[test]
fn no_kernel_id_comparisons_outside_the_catalogue() {
    let root = repo_root();
    // Comparisons, not mentions: entry points and CUDA functions may share a kernel's name.
    let patterns = [".id ==", ".id !=", "match kernel.id", "match k.id", "kernel == \"", "kernel != \""];
    let mut offenders = Vec::new();
    let mut stack = vec![root.join("runner/src"), root.join("web/src"), root.join("harness/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // The catalogues define the ids (kernels; model presets); `cases` parses them from
            // the user's words.
            if !name.ends_with(".rs") || ["catalogue.rs", "cases.rs", "presets.rs"].contains(&name.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may pick a kernel by id; the code they test may not.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                if patterns.iter().any(|p| line.contains(p)) {
                    offenders.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "kernel ids compared outside the catalogue:\n{}", offenders.join("\n"));
}

/// Every `.rs` file below `dir`, with its path relative to the repository.
fn rust_files(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![repo_root().join(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(repo_root()).unwrap().display().to_string();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

/// ARCHITECTURE.md's invariants that a text search can hold: only `harness::schema` types are
/// serialisable (so every wire format has a golden file), wasm-bound code never reads
/// `std::time::Instant`, and every module says what it owns.
#[test]
fn architecture_invariants_hold() {
    let mut offenders = Vec::new();
    for dir in ["harness/src", "web/src", "runner/src"] {
        for (path, text) in rust_files(dir) {
            let in_schema = path.starts_with("harness/src/schema/");
            for (i, line) in text.lines().enumerate() {
                let t = line.trim();
                if t.starts_with("//") {
                    continue;
                }
                if !in_schema && t.starts_with("#[derive") && (t.contains("Serialize") || t.contains("Deserialize")) {
                    offenders.push(format!("{path}:{}: a serialisable type outside harness::schema: {t}", i + 1));
                }
                // Backends see typed operations and named inputs only.
                if path.starts_with("runner/src/backends/")
                    && ["p.get(\"", "p.usize(\"", "params.get(\"", ".f32s[", ".u32s["].iter().any(|pat| t.contains(pat))
                {
                    offenders.push(format!(
                        "{path}:{}: a backend looks a parameter or input up by name or index: {t}",
                        i + 1
                    ));
                }
                let wasm_bound = dir != "runner/src";
                if wasm_bound && (t.contains("std::time::Instant") || t.contains("SystemTime::now")) {
                    offenders.push(format!("{path}:{}: wasm-bound code reads the std clock: {t}", i + 1));
                }
            }
            if !text.trim_start().starts_with("//!") && !path.ends_with("build.rs") {
                offenders.push(format!("{path}: does not start with a `//!` line saying what it owns"));
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}
