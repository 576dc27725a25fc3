//! The initial contents of a graph's tensors: random weights from the seed at the scale
//! initialisers use (so activations stay O(1) through every layer and the check is meaningful),
//! computed constants (RoPE tables and sinusoids in f64, position ids, a shuffled page table)
//! and the prompt's token ids.

use super::graph::{Graph, TensorKind};
use crate::reference::rope_table;
use crate::rng::InputRng;
use crate::schema::Positions;

/// A tensor's starting contents.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    F32(Vec<f32>),
    U32(Vec<u32>),
    /// Written before it is read (activations, the cache, the output).
    Uninit,
}

/// Every tensor's initial values, in [`Graph::tensors`] order: a pure function of the graph and
/// the seed, so any executor (and a rerun) starts from the same model.
pub fn initial(g: &Graph, seed: u64) -> Vec<Values> {
    let cfg = &g.config;
    let mut out = Vec::with_capacity(g.tensors.len());
    // The log-mel's tables, computed once in f64 for every tensor that holds one.
    let mel = g.id("audio.pcm").map(|pcm| {
        let n = g.tensors[pcm].elements();
        crate::kernels::MelSetup::new(cfg.n_mels, n).tables()
    });
    let mel_table =
        |pick: fn(&crate::kernels::MelTables) -> Values| pick(mel.as_ref().expect("audio models have samples"));
    // The quantisation of the weight just visited, for its `.scales` tensor next.
    let mut quantized: Option<(String, crate::quant::Quantized)> = None;
    for t in &g.tensors {
        // Each tensor its own stream, keyed by its name: adding a tensor changes no other, and a
        // quantised graph quantises exactly the weights its f32 twin holds.
        let base = t.name.strip_suffix(".scales").unwrap_or(&t.name);
        let mut rng = InputRng::new(seed ^ name_key(base));
        let n = t.elements();
        let v = match t.kind {
            // A quantised linear weight: the f32 (in, out) matrix its f32 twin holds,
            // transposed to (out, in) and quantised; its scales come from the same quantisation.
            TensorKind::Weight if t.ids => {
                let format = g.quant.expect("id-typed weights only in quantised graphs");
                let q = match quantized.take().filter(|(name, _)| name == base) {
                    Some((_, q)) => q,
                    None => {
                        assert!(!t.name.ends_with(".scales"), "scales follow their weight");
                        let cols = t.shape[0];
                        let k = t.shape[1] * 32 / format.bits();
                        let a = (3.0f32 / k as f32).sqrt();
                        let w = rng.vec(k * cols, -a, a);
                        // (k, n) row-major to (n, k).
                        let wt: Vec<f32> = (0..cols * k).map(|e| w[(e % k) * cols + e / k]).collect();
                        crate::quant::quantize(&wt, cols, k, format)
                    }
                };
                if t.name.ends_with(".scales") {
                    Values::U32(q.packed_scales())
                } else {
                    let words = q.words.clone();
                    quantized = Some((base.to_owned(), q));
                    Values::U32(words)
                }
            }
            TensorKind::Weight => Values::F32(weight(&t.name, &t.shape, &mut rng)),
            TensorKind::Constant => match t.name.as_str() {
                "rope.cos" | "rope.sin" => {
                    let Positions::Rope { theta } = cfg.positions else { unreachable!("RoPE tables only with RoPE") };
                    let (c, s) = rope_table(t.shape[0], cfg.head_dim, theta, 0);
                    Values::F32(if t.name == "rope.cos" { c } else { s })
                }
                "positions.sinusoids" => Values::F32(sinusoids(t.shape[0], t.shape[1])),
                "position_ids" => Values::U32((0..n as u32).collect()),
                "token_type_ids" => Values::U32(vec![0; n]),
                "page_table" => Values::U32(rng.permutation(n as u32)),
                // Real speech (static/speech.wav), repeated to the input's length.
                "audio.pcm" => Values::F32(crate::kernels::speech_clip().into_iter().cycle().take(n).collect()),
                "mel.window" => mel_table(|t| Values::F32(t.window.clone())),
                "mel.twiddle" => mel_table(|t| Values::F32(t.twiddle.clone())),
                "mel.range" => mel_table(|t| Values::U32(t.ranges.clone())),
                "mel.weight" => mel_table(|t| Values::F32(t.weights.clone())),
                other => unreachable!("no values for constant `{other}`"),
            },
            TensorKind::Tokens => {
                let mut ids = vec![0u32; n];
                // An audio encoder reads samples, not ids.
                let prompt = if cfg.family == crate::schema::ModelFamily::AudioEncoder { 0 } else { g.prompt };
                for id in &mut ids[..prompt] {
                    *id = rng.below(cfg.vocab as u32);
                }
                Values::U32(ids)
            }
            TensorKind::Activation | TensorKind::KvCache | TensorKind::Output => Values::Uninit,
        };
        // An fp16 graph holds the f32 twin's values rounded: what its device buffers hold.
        let v = match v {
            Values::F32(v) if g.is_half(t) => Values::F32(v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()),
            v => v,
        };
        out.push(v);
    }
    out
}

/// A weight's seeded values by its role (from its name): norm scales near 1, small biases and
/// embeddings, matrices (in, out) uniform with variance 1 / in. Training starts from these too.
pub(crate) fn weight(name: &str, shape: &[usize], rng: &mut InputRng) -> Vec<f32> {
    let n = shape.iter().product();
    if name.contains("norm") && name.ends_with(".weight") {
        rng.vec(n, 0.9, 1.1)
    } else if name.ends_with(".bias") {
        rng.vec(n, -0.02, 0.02)
    } else if name.starts_with("embed.") || name == "lm_head.weight" {
        rng.vec(n, -0.1, 0.1)
    } else {
        let a = (3.0f32 / shape[0] as f32).sqrt();
        rng.vec(n, -a, a)
    }
}

/// Whisper's positional table: sin over the first half of the channels, cos over the second,
/// timescales log-spaced from 1 to 10000.
pub fn sinusoids(positions: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let inc = (10_000f64).ln() / (half.max(2) - 1) as f64;
    let mut v = vec![0f32; positions * channels];
    for t in 0..positions {
        for i in 0..half {
            let a = t as f64 * (-inc * i as f64).exp();
            v[t * channels + i] = a.sin() as f32;
            v[t * channels + half + i] = a.cos() as f32;
        }
    }
    v
}

/// A 64-bit key of a tensor name (FNV-1a), mixed into the seed of its values' stream.
pub(crate) fn name_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
