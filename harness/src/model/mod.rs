//! Models over the catalogue: configs (presets with their published shapes, accelbench's own
//! JSON, Hugging Face `config.json`), each config's named weight tensors, and what they weigh.
//! The weight list is the single description later stages build on (random weights from the
//! seed, memory plans, splitting for binding limits); parameter counts come from it, not from
//! a table.

pub mod exec;
pub mod graph;
mod hf;
pub mod lower;
mod presets;
pub mod reference;
pub mod run;
pub mod values;

pub use hf::{ConfigError, from_hf_config, parse_config};
pub use presets::{PRESETS, Preset, preset};

use crate::schema::{Activation, DtypeBytes, ModelConfig, ModelFamily, ModelInfo, ModelScale, NormKind, Positions};

/// A config of `family` with every size zero and GPT-2's choices (LayerNorm, GELU, learned
/// positions, biases): what presets and translated configs fill in.
pub(crate) fn skeleton(name: &str, family: ModelFamily) -> ModelConfig {
    ModelConfig {
        name: name.into(),
        family,
        layers: 0,
        hidden: 0,
        heads: 0,
        kv_heads: 0,
        head_dim: 0,
        ffn: 0,
        vocab: 0,
        context: 0,
        norm: NormKind::LayerNorm,
        activation: Activation::Gelu,
        positions: Positions::Learned,
        causal: family == ModelFamily::Decoder,
        tied_embeddings: false,
        linear_bias: true,
        qkv_bias: false,
        n_mels: 0,
    }
}

/// One weight tensor of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    /// Dotted path, e.g. `layers.3.attn.q.weight`.
    pub name: String,
    pub shape: Vec<usize>,
}

impl Tensor {
    pub fn elements(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }
}

/// Every weight tensor `cfg` has, in the order a forward pass meets them.
pub fn tensors(cfg: &ModelConfig) -> Vec<Tensor> {
    let mut out = Vec::new();
    let mut t = |name: String, shape: &[usize]| out.push(Tensor { name, shape: shape.to_vec() });
    let h = cfg.hidden;
    match cfg.family {
        ModelFamily::AudioEncoder => {
            // Whisper: conv1 (n_mels -> h, k3), conv2 (h -> h, k3, stride 2), both with bias.
            t("conv1.weight".into(), &[h, cfg.n_mels, 3]);
            t("conv1.bias".into(), &[h]);
            t("conv2.weight".into(), &[h, h, 3]);
            t("conv2.bias".into(), &[h]);
        }
        ModelFamily::Decoder | ModelFamily::Encoder => {
            t("embed.tokens".into(), &[cfg.vocab, h]);
            if cfg.positions == Positions::Learned {
                t("embed.positions".into(), &[cfg.context, h]);
            }
            if cfg.family == ModelFamily::Encoder {
                // BERT's token types and the LayerNorm over the summed embeddings.
                t("embed.token_types".into(), &[2, h]);
                t("embed.norm.weight".into(), &[h]);
                t("embed.norm.bias".into(), &[h]);
            }
        }
    }
    let (q, kv) = (cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim);
    let norm = |t: &mut dyn FnMut(String, &[usize]), name: &str| {
        t(format!("{name}.weight"), &[h]);
        if cfg.norm == NormKind::LayerNorm {
            t(format!("{name}.bias"), &[h]);
        }
    };
    for l in 0..cfg.layers {
        let p = format!("layers.{l}");
        norm(&mut t, &format!("{p}.attn_norm"));
        for (w, rows) in [("q", q), ("k", kv), ("v", kv)] {
            t(format!("{p}.attn.{w}.weight"), &[h, rows]);
            // Whisper's K projection has no bias; everything else with biases has them.
            let whisper_k = cfg.family == ModelFamily::AudioEncoder && w == "k";
            if (cfg.linear_bias || cfg.qkv_bias) && !whisper_k {
                t(format!("{p}.attn.{w}.bias"), &[rows]);
            }
        }
        t(format!("{p}.attn.o.weight"), &[q, h]);
        if cfg.linear_bias {
            t(format!("{p}.attn.o.bias"), &[h]);
        }
        norm(&mut t, &format!("{p}.mlp_norm"));
        let mats: &[&str] = match cfg.activation {
            Activation::Gelu => &["up"],
            Activation::SwiGlu => &["gate", "up"],
        };
        for m in mats {
            t(format!("{p}.mlp.{m}.weight"), &[h, cfg.ffn]);
            if cfg.linear_bias {
                t(format!("{p}.mlp.{m}.bias"), &[cfg.ffn]);
            }
        }
        t(format!("{p}.mlp.down.weight"), &[cfg.ffn, h]);
        if cfg.linear_bias {
            t(format!("{p}.mlp.down.bias"), &[h]);
        }
    }
    // BERT normalises after each block (post-norm) and so has no final norm.
    if cfg.family != ModelFamily::Encoder {
        norm(&mut t, "final_norm");
    }
    if cfg.family == ModelFamily::Decoder && !cfg.tied_embeddings {
        // (vocab, hidden), as the embedding table: one LM-head kernel serves tied and untied heads.
        t("lm_head.weight".into(), &[cfg.vocab, h]);
    }
    out
}

pub fn parameters(cfg: &ModelConfig) -> u64 {
    tensors(cfg).iter().map(Tensor::elements).sum()
}

/// Weight and (decoders) KV-cache bytes at f32, f16 and int8 (int8: one f32 scale per output channel of
/// every matrix, the vectors kept in f32).
pub fn memory(cfg: &ModelConfig) -> Vec<DtypeBytes> {
    let ts = tensors(cfg);
    // Only decoders cache K and V across steps; an encoder recomputes them per input.
    let kv_elems =
        if cfg.family == ModelFamily::Decoder { (2 * cfg.layers * cfg.kv_heads * cfg.head_dim) as u64 } else { 0 };
    let int8: u64 = ts
        .iter()
        .map(|t| match t.shape.as_slice() {
            [_, cols] => t.elements() + 4 * *cols as u64,
            [out, _, _] => t.elements() + 4 * *out as u64,
            _ => 4 * t.elements(),
        })
        .sum();
    let n: u64 = ts.iter().map(Tensor::elements).sum();
    vec![
        DtypeBytes { dtype: "f32".into(), weight_bytes: 4 * n, kv_bytes_per_token: 4 * kv_elems },
        DtypeBytes { dtype: "f16".into(), weight_bytes: 2 * n, kv_bytes_per_token: 2 * kv_elems },
        DtypeBytes { dtype: "int8".into(), weight_bytes: int8, kv_bytes_per_token: kv_elems },
    ]
}

/// The model at its `quick` scale: the same structure (family, norm, activation, positions,
/// grouped-query ratio, FFN ratio, biases) at 2 layers, 4 heads of 32, a 2048-token vocabulary
/// and 256 positions, so it runs on CPU adapters in seconds with every binding far below 128 MiB.
pub fn quick(cfg: &ModelConfig) -> ModelConfig {
    let heads = 4;
    let group = (cfg.heads / cfg.kv_heads.max(1)).clamp(1, heads);
    let hidden = heads * 32;
    let ffn_ratio = cfg.ffn as f64 / cfg.hidden as f64;
    ModelConfig {
        name: format!("{} (quick)", cfg.name),
        layers: cfg.layers.min(2),
        hidden,
        heads,
        kv_heads: heads / group,
        head_dim: 32,
        ffn: ((hidden as f64 * ffn_ratio / 32.0).round() as usize).max(1) * 32,
        vocab: cfg.vocab.min(2048),
        context: cfg.context.min(256),
        ..cfg.clone()
    }
}

fn scale(name: &str, cfg: ModelConfig) -> ModelScale {
    let ts = tensors(&cfg);
    // The first of equals (`max_by_key` keeps the last), so ties name the earliest tensor.
    let largest =
        ts.iter().rev().max_by_key(|t| t.elements()).cloned().unwrap_or(Tensor { name: String::new(), shape: vec![] });
    ModelScale {
        scale: name.into(),
        parameters: ts.iter().map(Tensor::elements).sum(),
        memory: memory(&cfg),
        largest_tensor: largest.name.clone(),
        largest_tensor_bytes: 4 * largest.elements(),
        config: cfg,
    }
}

/// A model as `accelbench models` lists it: both scales.
pub fn info(preset: &str, summary: &str, cfg: &ModelConfig) -> ModelInfo {
    ModelInfo {
        preset: preset.into(),
        summary: summary.into(),
        scales: vec![scale("quick", quick(cfg)), scale("full", cfg.clone())],
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    fn params(id: &str) -> u64 {
        parameters(&(preset(id).unwrap().config)())
    }

    /// The counts their authors publish (the Hub's safetensors metadata), exactly where the
    /// architecture is fully specified by the config.
    #[test]
    fn parameter_counts_match_the_published_models() {
        assert_eq!(params("gpt2-small"), 124_439_808);
        assert_eq!(params("qwen2.5-0.5b"), 494_032_768);
        assert_eq!(params("tinyllama-1.1b"), 1_100_048_384);
        assert_eq!(params("llama-3.2-1b"), 1_235_814_400);
        // bert-base-uncased is 109,482,240 with its pooler (768 x 768 + 768), which we omit.
        assert_eq!(params("bert-base"), 109_482_240 - 590_592);
        // Whisper's encoder without its (computed) sinusoidal table.
        assert_eq!(params("whisper-tiny"), 8_208_384 - 1500 * 384);
    }

    #[test]
    fn quick_scales_keep_the_structure_and_fit_a_software_adapter() {
        for p in PRESETS {
            let full = (p.config)();
            let q = quick(&full);
            assert_eq!(
                (q.family, q.norm, q.activation, q.causal),
                (full.family, full.norm, full.activation, full.causal)
            );
            assert_eq!(q.heads / q.kv_heads, (full.heads / full.kv_heads).min(4), "{}: grouped-query ratio", p.id);
            assert_eq!(q.heads * q.head_dim, q.hidden);
            let biggest = tensors(&q).iter().map(Tensor::elements).max().unwrap() * 4;
            assert!(biggest < 128 << 20, "{}: {biggest} bytes in one tensor", p.id);
            assert!(parameters(&q) < parameters(&full) / 10, "{}", p.id);
        }
        let llama = preset("llama-3.2-1b").unwrap().info();
        let full = &llama.scales[1];
        assert_eq!(full.largest_tensor, "embed.tokens");
        // 128256 x 2048 f32 is over lavapipe's 128 MiB binding: the model must be split there.
        assert!(full.largest_tensor_bytes > 128 << 20);
        assert_eq!(full.memory[1].weight_bytes, 2 * full.parameters);
        assert_eq!(full.memory[0].kv_bytes_per_token, 2 * 16 * 8 * 64 * 4);
    }
}

#[cfg(test)]
mod tests;

/// A model chosen for a run: its id (a preset's, or a config's name) and its config at the
/// run's scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub id: String,
    pub config: ModelConfig,
}

/// Presets by id (`all`: every preset), in listing order, at `size`'s scale; an unknown id is
/// an error listing the presets.
pub fn select(ids: &[String], size: crate::schema::Size) -> Result<Vec<Chosen>, ConfigError> {
    for id in ids.iter().filter(|id| *id != "all") {
        preset(id)?;
    }
    let all = ids.iter().any(|id| id == "all");
    Ok(PRESETS
        .iter()
        .filter(|p| all || ids.iter().any(|id| id == p.id))
        .map(|p| Chosen { id: p.id.to_owned(), config: at_scale((p.config)(), size) })
        .collect())
}

/// `cfg` at `size`'s scale: itself at `full`, [`quick`] at `quick`.
pub fn at_scale(cfg: ModelConfig, size: crate::schema::Size) -> ModelConfig {
    match size {
        crate::schema::Size::Quick => quick(&cfg),
        crate::schema::Size::Full => cfg,
    }
}

/// Prompt and generated tokens of `cfg`, each the given one or `size`'s default: 32 and 16 at
/// `quick`, 512 and 128 at `full` (llama-bench's pp512 / tg128); an audio encoder at `full`
/// takes its whole context (Whisper's 30 s: 1500 positions).
pub fn lengths(
    cfg: &ModelConfig,
    size: crate::schema::Size,
    prompt: Option<usize>,
    generate: Option<usize>,
) -> (usize, usize) {
    let (p, g) = match size {
        crate::schema::Size::Quick => (32, 16),
        crate::schema::Size::Full if cfg.family == ModelFamily::AudioEncoder => (cfg.context, 0),
        crate::schema::Size::Full => (512, 128),
    };
    (prompt.unwrap_or(p), generate.unwrap_or(g))
}

/// A precision name no model runs at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("precision `{0}` is not f32, f16, q8 or q4 (the precisions models run at)")]
pub struct UnknownWeights(pub String);

/// The precision a model runs at: its record's `dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelPrecision {
    /// f32 storage and arithmetic.
    F32,
    /// fp16 storage of every weight, activation and the KV cache, f32 arithmetic: the
    /// catalogue's `-f16` kernels. The logits, the attention scores and the RoPE tables stay
    /// f32, as those kernels keep them.
    F16,
    /// f32 activations; the linear layers' weights block-quantised, dequantised in the kernels.
    Quant(crate::quant::QuantFormat),
}

impl ModelPrecision {
    pub fn name(self) -> &'static str {
        match self {
            ModelPrecision::F32 => "f32",
            ModelPrecision::F16 => "f16",
            ModelPrecision::Quant(q) => q.name(),
        }
    }

    /// The linear layers' weight format, where quantised.
    pub fn quant(self) -> Option<crate::quant::QuantFormat> {
        match self {
            ModelPrecision::Quant(q) => Some(q),
            _ => None,
        }
    }

    pub fn half(self) -> bool {
        self == ModelPrecision::F16
    }
}

/// Model precisions by name (`f32`, `f16`, `q8`, `q4`), in the order given; none given is f32
/// alone.
pub fn precisions(names: &[String]) -> Result<Vec<ModelPrecision>, UnknownWeights> {
    use crate::quant::QuantFormat;
    if names.is_empty() {
        return Ok(vec![ModelPrecision::F32]);
    }
    names
        .iter()
        .map(|n| match n.as_str() {
            "f32" => Ok(ModelPrecision::F32),
            "f16" => Ok(ModelPrecision::F16),
            "q8" => Ok(ModelPrecision::Quant(QuantFormat::Q8)),
            "q4" => Ok(ModelPrecision::Quant(QuantFormat::Q4)),
            other => Err(UnknownWeights(other.to_owned())),
        })
        .collect()
}
