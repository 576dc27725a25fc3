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
    for (i, t) in g.tensors.iter().enumerate() {
        // Each tensor its own stream, so adding a tensor does not change the others.
        let mut rng = InputRng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let n = t.elements();
        let v = match t.kind {
            TensorKind::Weight => {
                let name = t.name.as_str();
                let norm = name.contains("norm");
                if norm && name.ends_with(".weight") {
                    Values::F32(rng.vec(n, 0.9, 1.1))
                } else if name.ends_with(".bias") {
                    Values::F32(rng.vec(n, -0.02, 0.02))
                } else if name.starts_with("embed.") || name == "lm_head.weight" {
                    Values::F32(rng.vec(n, -0.1, 0.1))
                } else {
                    // Matrices are (in, out): uniform with variance 1 / in.
                    let a = (3.0f32 / t.shape[0] as f32).sqrt();
                    Values::F32(rng.vec(n, -a, a))
                }
            }
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
        out.push(v);
    }
    out
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
