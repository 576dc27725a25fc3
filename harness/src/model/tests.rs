//! Tests of the model graph and its f64 reference: one layer against an independent
//! composition of the kernel references, forced decoding, and the cache's incremental answer.

use super::exec::{self, NORM_EPS};
use super::graph::{Graph, GraphError, TensorKind};
use super::reference::Reference;
use super::values::{self, Values};
use super::{preset, quick};
use crate::reference as r;
use crate::schema::{ModelConfig, NormKind, Positions};

fn one_layer(id: &str) -> ModelConfig {
    ModelConfig { layers: 1, ..quick(&(preset(id).unwrap().config)()) }
}

fn f32s(init: &[Values], g: &Graph, name: &str) -> Vec<f32> {
    match &init[g.id(name).unwrap_or_else(|| panic!("no tensor {name}"))] {
        Values::F32(v) => v.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

/// (tokens, heads, d) to (heads, tokens, d), repeating each KV head `group` times.
fn heads_first(x: &[f32], tokens: usize, heads: usize, d: usize, group: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(tokens * heads * d * group);
    for h in 0..heads * group {
        for t in 0..tokens {
            out.extend_from_slice(&x[(t * heads + h / group) * d..][..d]);
        }
    }
    out
}

fn tokens_first(x: &[f32], tokens: usize, heads: usize, d: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for h in 0..heads {
        for t in 0..tokens {
            out[(t * heads + h) * d..][..d].copy_from_slice(&x[(h * tokens + t) * d..][..d]);
        }
    }
    out
}

fn linear(x: &[f32], init: &[Values], g: &Graph, name: &str, rows: usize, k: usize, n: usize) -> Vec<f32> {
    let y = r::matmul(x, &f32s(init, g, &format!("{name}.weight")), rows, n, k, 1);
    match g.id(&format!("{name}.bias")) {
        Some(_) => {
            let b = f32s(init, g, &format!("{name}.bias"));
            y.iter().enumerate().map(|(i, v)| v + b[i % n]).collect()
        }
        None => y,
    }
}

fn norm(cfg: &ModelConfig, x: &[f32], init: &[Values], g: &Graph, name: &str, rows: usize) -> Vec<f32> {
    let gamma = f32s(init, g, &format!("{name}.weight"));
    match cfg.norm {
        NormKind::LayerNorm => {
            r::layernorm(x, &gamma, &f32s(init, g, &format!("{name}.bias")), rows, cfg.hidden, NORM_EPS)
        }
        NormKind::RmsNorm => r::rmsnorm(x, &gamma, rows, cfg.hidden, NORM_EPS),
    }
}

/// One decoder layer and the LM head composed from `crate::reference`'s kernels (their own
/// layouts: attention heads-first, GQA by repeating KV heads), not from the model's executor.
fn composed_logits(cfg: &ModelConfig, g: &Graph, init: &[Values]) -> Vec<f32> {
    let (t, h, d) = (g.prompt, cfg.hidden, cfg.head_dim);
    let ids = match &init[g.tokens] {
        Values::U32(v) => v[..t].to_vec(),
        _ => unreachable!(),
    };
    let table = f32s(init, g, "embed.tokens");
    let mut x: Vec<f32> = ids.iter().flat_map(|&i| table[i as usize * h..][..h].to_vec()).collect();
    if cfg.positions == Positions::Learned {
        let pos = f32s(init, g, "embed.positions");
        x.iter_mut().enumerate().for_each(|(i, v)| *v += pos[i]);
    }
    let add = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x + y).collect::<Vec<f32>>();
    let n = norm(cfg, &x, init, g, "layers.0.attn_norm", t);
    let (qd, kvd) = (cfg.heads * d, cfg.kv_heads * d);
    let mut q = linear(&n, init, g, "layers.0.attn.q", t, h, qd);
    let mut k = linear(&n, init, g, "layers.0.attn.k", t, h, kvd);
    let v = linear(&n, init, g, "layers.0.attn.v", t, h, kvd);
    if let Positions::Rope { theta } = cfg.positions {
        let (c, s) = r::rope_table(t, d, theta, 0);
        q = r::rope(&q, &c, &s, cfg.heads, d);
        k = r::rope(&k, &c, &s, cfg.kv_heads, d);
    }
    let group = cfg.heads / cfg.kv_heads;
    let shape = r::AttentionShape {
        batch: 1,
        heads: cfg.heads,
        seq_len: t,
        head_dim: d,
        scale: 1.0 / (d as f32).sqrt(),
        window: t,
    };
    let o = r::attention(
        &heads_first(&q, t, cfg.heads, d, 1),
        &heads_first(&k, t, cfg.kv_heads, d, group),
        &heads_first(&v, t, cfg.kv_heads, d, group),
        shape,
    );
    let o = tokens_first(&o, t, cfg.heads, d);
    let x = add(&x, &linear(&o, init, g, "layers.0.attn.o", t, qd, h));
    let n = norm(cfg, &x, init, g, "layers.0.mlp_norm", t);
    let act = match g.id("layers.0.mlp.gate.weight") {
        Some(_) => r::swiglu(
            &linear(&n, init, g, "layers.0.mlp.gate", t, h, cfg.ffn),
            &linear(&n, init, g, "layers.0.mlp.up", t, h, cfg.ffn),
        ),
        None => r::gelu_tanh(&linear(&n, init, g, "layers.0.mlp.up", t, h, cfg.ffn)),
    };
    let x = add(&x, &linear(&act, init, g, "layers.0.mlp.down", t, cfg.ffn, h));
    let n = norm(cfg, &x, init, g, "final_norm", t);
    let head = if cfg.tied_embeddings { table } else { f32s(init, g, "lm_head.weight") };
    let last = &n[(t - 1) * h..][..h];
    (0..cfg.vocab)
        .map(|vi| last.iter().zip(&head[vi * h..][..h]).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() as f32)
        .collect()
}

#[test]
fn one_decoder_layer_matches_a_composition_of_the_kernel_references() {
    // GPT-2: LayerNorm, learned positions, GELU, biases, tied head. Llama: RMSNorm, RoPE,
    // grouped-query attention, SwiGLU. TinyLlama: an untied head.
    for id in ["gpt2-small", "llama-3.2-1b", "tinyllama-1.1b", "qwen2.5-0.5b"] {
        let cfg = one_layer(id);
        let g = Graph::build(&cfg, 12, 0).unwrap();
        let init = values::initial(&g, 7);
        let run = exec::run_graph(&Reference, &g, &init, None);
        let want = composed_logits(&cfg, &g, &init);
        let worst = run.output.iter().zip(&want).map(|(a, b)| (a - b).abs() / (1e-3 + b.abs())).fold(0f32, f32::max);
        assert!(worst < 1e-4, "{id}: worst relative difference {worst}");
        assert!(want.iter().any(|v| v.abs() > 0.1), "{id}: logits are not degenerate");
    }
}

#[test]
fn decoding_through_the_cache_equals_recomputing_the_whole_sequence() {
    // The logits of decode step s (one token, the cache holding the rest) must equal the last
    // logits of a prefill over the prompt plus the first s generated tokens.
    let cfg = one_layer("llama-3.2-1b");
    let (prompt, generate) = (9, 4);
    let g = Graph::build(&cfg, prompt, generate).unwrap();
    let init = values::initial(&g, 3);
    let run = exec::run_graph(&Reference, &g, &init, None);
    let v = cfg.vocab;
    for s in 1..=generate {
        let long = Graph::build(&cfg, prompt + s, 0).unwrap();
        let mut init2 = values::initial(&long, 3);
        // Same weights and prompt: the graphs differ only in sizes, so copy by tensor name.
        for (i, t) in long.tensors.iter().enumerate() {
            if t.kind == TensorKind::Weight {
                init2[i] = init[g.id(&t.name).unwrap()].clone();
            }
        }
        init2[long.tokens] = Values::U32(run.tokens[..prompt + s + 1].to_vec());
        let re = exec::run_graph(&Reference, &long, &init2, Some(&run.tokens[..prompt + s + 1]));
        let step = &run.output[s * v..][..v];
        let worst = step.iter().zip(&re.output[..v]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "step {s}: {worst}");
    }
}

#[test]
fn forced_decoding_replays_the_given_tokens() {
    let cfg = one_layer("gpt2-small");
    let g = Graph::build(&cfg, 5, 3).unwrap();
    let init = values::initial(&g, 1);
    let free = exec::run_graph(&Reference, &g, &init, None);
    assert!(free.tokens[5..].iter().all(|&t| (t as usize) < cfg.vocab));
    let forced = exec::run_graph(&Reference, &g, &init, Some(&free.tokens));
    assert_eq!(free.output, forced.output);
    let mut other = free.tokens.clone();
    other[6] = (other[6] + 1) % cfg.vocab as u32;
    let changed = exec::run_graph(&Reference, &g, &init, Some(&other));
    assert_eq!(changed.output[..2 * cfg.vocab], free.output[..2 * cfg.vocab], "rows before the change agree");
    assert_ne!(changed.output[2 * cfg.vocab..], free.output[2 * cfg.vocab..]);
}

#[test]
fn encoders_are_bidirectional_and_bad_shapes_are_refused() {
    let cfg = quick(&(preset("bert-base").unwrap().config)());
    let g = Graph::build(&cfg, 8, 5).unwrap();
    assert_eq!(g.generate, 0, "encoders do not generate");
    let init = values::initial(&g, 2);
    let a = exec::run_graph(&Reference, &g, &init, None);
    // Changing the last token changes the first position's output: attention looks ahead.
    let mut init2 = init.clone();
    if let Values::U32(ids) = &mut init2[g.tokens] {
        ids[7] = (ids[7] + 1) % cfg.vocab as u32;
    }
    let b = exec::run_graph(&Reference, &g, &init2, None);
    assert_ne!(a.output[..cfg.hidden], b.output[..cfg.hidden]);
    let too_long = Graph::build(&cfg, cfg.context + 1, 0).unwrap_err();
    assert!(matches!(too_long, GraphError::Invalid { field: "prompt + generate", .. }), "{too_long}");
}

/// Whisper's front end in the graph (log-mel of the speech clip, conv k3 + GELU, conv k3
/// stride 2 + GELU, sinusoidal positions) equals the kernel references composed by hand, and
/// the whole encoder runs to a finite (positions, hidden) output.
#[test]
fn whisper_front_end_is_the_composed_references() {
    let cfg = one_layer("whisper-tiny");
    let prompt = 8;
    let g = Graph::build(&cfg, prompt, 5).unwrap();
    assert_eq!(g.generate, 0, "encoders generate nothing");
    assert_eq!(g.tensors[g.output].shape, [prompt, cfg.hidden]);
    let init = values::initial(&g, 3);
    let h = cfg.hidden;
    let pcm = f32s(&init, &g, "audio.pcm");
    assert_eq!(pcm.len(), 2 * prompt * crate::kernels::MEL_HOP);
    let mel = r::logmel(&pcm, &crate::kernels::mel_config(cfg.n_mels));
    let frames = 2 * prompt;
    assert_eq!(mel.len(), cfg.n_mels * frames);
    let c1 = r::conv1d(
        &mel,
        &f32s(&init, &g, "conv1.weight"),
        &f32s(&init, &g, "conv1.bias"),
        cfg.n_mels,
        h,
        frames,
        frames,
        3,
        1,
    );
    let c1 = r::gelu_erf(&c1);
    let c2 =
        r::conv1d(&c1, &f32s(&init, &g, "conv2.weight"), &f32s(&init, &g, "conv2.bias"), h, h, frames, frames, 3, 2);
    assert_eq!(c2.len(), prompt * h, "stride 2 halves the frames");
    // (hidden, positions) to the transformer's (positions, hidden), then GELU and positions.
    let c2: Vec<f32> = (0..prompt * h).map(|i| c2[(i % h) * prompt + i / h]).collect();
    let sin = values::sinusoids(prompt, h);
    let want: Vec<f32> = r::gelu_erf(&c2).iter().zip(&sin).map(|(a, b)| a + b).collect();

    // The graph's nodes up to the first norm: the front end and the positions.
    let first_norm = g.prefill.iter().position(|n| matches!(n, super::graph::Node::Norm { .. })).unwrap();
    let mut store = exec::Store::new(&g, &init, f64::from);
    exec::run(&Reference, &mut store, &g.prefill[..first_norm], false);
    let x = g.prefill[..first_norm]
        .iter()
        .rev()
        .find_map(|n| match *n {
            super::graph::Node::Add { out, .. } => Some(out),
            _ => None,
        })
        .unwrap();
    let got: Vec<f32> = store.f[x][..prompt * h].iter().map(|&v| v as f32).collect();
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-4, "front end differs by {worst}");

    let run = exec::run_graph(&Reference, &g, &init, None);
    assert_eq!(run.output.len(), prompt * h);
    assert!(run.output.iter().all(|v| v.is_finite()));
}

/// A quantised graph holds the f32 twin's weights quantised (values keyed by tensor name), and
/// its reference is the f32 graph's with every linear weight replaced by its dequantised self.
#[test]
fn quantised_weights_are_the_f32_twins_dequantised() {
    use crate::quant::{QuantFormat, Quantized};
    for format in [QuantFormat::Q8, QuantFormat::Q4] {
        let cfg = one_layer("llama-3.2-1b");
        let q = Graph::build_quantized(&cfg, 6, 3, Some(format)).unwrap();
        let f = Graph::build(&cfg, 6, 3).unwrap();
        assert!(q.bytes(TensorKind::Weight) < f.bytes(TensorKind::Weight), "{format:?} weighs less");
        let qi = values::initial(&q, 9);
        let mut fi = values::initial(&f, 9);
        let mut replaced = 0;
        for (t, ft) in f.tensors.iter().enumerate() {
            if !super::graph::is_linear_weight(&ft.name) {
                continue;
            }
            let (w, s) = (q.id(&ft.name).unwrap(), q.id(&format!("{}.scales", ft.name)).unwrap());
            let (Values::U32(words), Values::U32(scales)) = (&qi[w], &qi[s]) else { panic!("packed") };
            let (k, n) = (ft.shape[0], ft.shape[1]);
            let deq = Quantized::from_packed(format, n, k, words, scales).dequantize();
            let Values::F32(orig) = &fi[t] else { panic!("f32") };
            // The same weights before quantisation: within half a level of each.
            let worst = (0..k * n).map(|e| (orig[e] - deq[(e % n) * k + e / n]).abs()).fold(0f32, f32::max);
            assert!(worst < 0.1 * orig.iter().fold(0f32, |m, v| m.max(v.abs())), "{}: {worst}", ft.name);
            fi[t] = Values::F32((0..k * n).map(|e| deq[(e % n) * k + e / n]).collect());
            replaced += 1;
        }
        assert!(replaced >= 7, "q, k, v, o, gate, up, down");
        let a = exec::run_graph(&Reference, &q, &qi, None);
        let b = exec::run_graph(&Reference, &f, &fi, Some(&a.tokens));
        let worst = a.output.iter().zip(&b.output).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-5, "{format:?}: quantised reference differs from dequantised f32 by {worst}");
    }
}

/// An fp16 graph binds every tensor the same way in every kernel: a buffer the f16 shaders read
/// as f16 is exactly a tensor [`Graph::is_half`] names (no f32 view of f16 bytes, which
/// `Plan::to_half` would otherwise produce silently), its values are the f32 twin's rounded, and
/// the reference's outputs are f16 values, as the device stores them.
#[test]
fn fp16_graphs_bind_each_tensor_at_one_precision_and_round_like_the_device() {
    use super::ModelPrecision;
    use crate::shaders::GlobalKind;
    for id in ["gpt2-small", "llama-3.2-1b", "bert-base"] {
        let cfg = quick(&(preset(id).unwrap().config)());
        let g = Graph::build_at(&cfg, 6, 3, ModelPrecision::F16).unwrap();
        let init = values::initial(&g, 3);
        let low = super::lower::lower(&g, &init, &vec![0; g.tensors[g.tokens].elements()]);
        let plan = &low.plan;
        for d in plan.timed.iter().flat_map(|p| &p.dispatches) {
            let shader = d.shader.unwrap_or(plan.shader);
            for &(name, buf) in &d.bindings {
                let Some(t) = low.buffers.iter().position(|&b| b == buf) else { continue };
                let Some(global) = shader.globals.iter().find(|gl| gl.name == name) else { continue };
                if let GlobalKind::Storage { half, .. } = global.kind {
                    let tensor = &g.tensors[t];
                    if !tensor.ids {
                        assert_eq!(half, g.is_half(tensor), "{id}: {} as `{name}` of {}", tensor.name, shader.file);
                    }
                }
            }
        }
        let f32_graph = Graph::build(&cfg, 6, 3).unwrap();
        let f32_init = values::initial(&f32_graph, 3);
        let table = g.id("embed.tokens").unwrap();
        let (Values::F32(h), Values::F32(f)) = (&init[table], &f32_init[table]) else { panic!() };
        assert!(h.iter().zip(f).all(|(a, b)| *a == half::f16::from_f32(*b).to_f32()));
        assert!(h.iter().zip(f).any(|(a, b)| a != b), "{id}: rounded");
        let mut store = exec::Store::new(&g, &init, f64::from);
        exec::run(&Reference, &mut store, &g.prefill, true);
        for (t, v) in g.tensors.iter().zip(&store.f).filter(|(t, _)| g.is_half(t)) {
            assert!(v.iter().all(|&x| half::f16::from_f64(x).to_f64() == x), "{id}: {} holds f16 values", t.name);
        }
        assert!(store.f[g.id("x.1").unwrap()].iter().any(|&v| v != 0.0), "{id}: the prompt ran");
    }
    // Whisper's features stay f32: no fp16 graph.
    let whisper = quick(&(preset("whisper-tiny").unwrap().config)());
    let err = Graph::build_at(&whisper, 32, 0, ModelPrecision::F16).unwrap_err().to_string();
    assert!(err.contains("log-mel") && err.contains("f32, q8 or q4"), "{err}");
}
