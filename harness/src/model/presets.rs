//! The model catalogue: every preset's id, summary and published shapes (`config.json` on the
//! Hugging Face Hub), in listing order.

use super::{ConfigError, info};
use crate::schema::{Activation, ModelConfig, ModelFamily, ModelInfo, NormKind, Positions};

/// A preset: its id, what it is, and its published shapes.
#[derive(Debug)]
pub struct Preset {
    pub id: &'static str,
    pub summary: &'static str,
    pub config: fn() -> ModelConfig,
}

impl Preset {
    pub fn info(&self) -> ModelInfo {
        info(self.id, self.summary, &(self.config)())
    }
}

/// A LLaMA-style decoder (RMSNorm, SwiGLU, RoPE 10k, no biases) to fill in.
fn decoder(name: &str) -> ModelConfig {
    ModelConfig {
        norm: NormKind::RmsNorm,
        activation: Activation::SwiGlu,
        positions: Positions::Rope { theta: 10_000.0 },
        linear_bias: false,
        ..super::skeleton(name, ModelFamily::Decoder)
    }
}

fn whisper(name: &str, hidden: usize, layers: usize, heads: usize) -> ModelConfig {
    ModelConfig {
        family: ModelFamily::AudioEncoder,
        layers,
        hidden,
        heads,
        kv_heads: heads,
        head_dim: hidden / heads,
        ffn: 4 * hidden,
        // 30 s of audio: 3000 mel frames, 1500 after the stride-2 conv.
        context: 1500,
        norm: NormKind::LayerNorm,
        activation: Activation::Gelu,
        positions: Positions::Sinusoidal,
        causal: false,
        linear_bias: true,
        n_mels: 80,
        ..decoder(name)
    }
}

/// The presets, in listing order, with the shapes their authors published (`config.json` on the
/// Hugging Face Hub).
pub static PRESETS: &[Preset] = &[
    Preset {
        id: "gpt2-small",
        summary: "GPT-2 124M: LayerNorm, learned positions, GELU, tied LM head",
        config: || ModelConfig {
            layers: 12,
            hidden: 768,
            heads: 12,
            kv_heads: 12,
            head_dim: 64,
            ffn: 3072,
            vocab: 50257,
            context: 1024,
            norm: NormKind::LayerNorm,
            activation: Activation::Gelu,
            positions: Positions::Learned,
            tied_embeddings: true,
            linear_bias: true,
            ..decoder("gpt2-small")
        },
    },
    Preset {
        id: "llama-3.2-1b",
        summary: "Llama 3.2 1B: RMSNorm, RoPE (500k), grouped-query attention 32/8, SwiGLU, tied LM head",
        config: || ModelConfig {
            layers: 16,
            hidden: 2048,
            heads: 32,
            kv_heads: 8,
            head_dim: 64,
            ffn: 8192,
            vocab: 128_256,
            context: 131_072,
            positions: Positions::Rope { theta: 500_000.0 },
            tied_embeddings: true,
            ..decoder("llama-3.2-1b")
        },
    },
    Preset {
        id: "qwen2.5-0.5b",
        summary: "Qwen2.5 0.5B: RMSNorm, RoPE (1M), grouped-query attention 14/2 with QKV bias, SwiGLU, tied",
        config: || ModelConfig {
            layers: 24,
            hidden: 896,
            heads: 14,
            kv_heads: 2,
            head_dim: 64,
            ffn: 4864,
            vocab: 151_936,
            context: 32_768,
            positions: Positions::Rope { theta: 1_000_000.0 },
            tied_embeddings: true,
            qkv_bias: true,
            ..decoder("qwen2.5-0.5b")
        },
    },
    Preset {
        id: "tinyllama-1.1b",
        summary: "TinyLlama 1.1B: the Llama 2 architecture, grouped-query attention 32/4, untied LM head",
        config: || ModelConfig {
            layers: 22,
            hidden: 2048,
            heads: 32,
            kv_heads: 4,
            head_dim: 64,
            ffn: 5632,
            vocab: 32_000,
            context: 2048,
            ..decoder("tinyllama-1.1b")
        },
    },
    Preset {
        id: "bert-base",
        summary: "BERT base (uncased): bidirectional, post-LayerNorm, learned positions, GELU (no pooler)",
        config: || ModelConfig {
            family: ModelFamily::Encoder,
            layers: 12,
            hidden: 768,
            heads: 12,
            kv_heads: 12,
            head_dim: 64,
            ffn: 3072,
            vocab: 30_522,
            context: 512,
            norm: NormKind::LayerNorm,
            activation: Activation::Gelu,
            positions: Positions::Learned,
            causal: false,
            linear_bias: true,
            ..decoder("bert-base")
        },
    },
    Preset {
        id: "whisper-tiny",
        summary: "Whisper tiny encoder: log-mel (80), 2 conv1d + GELU, sinusoidal positions, 4 blocks of 384",
        config: || whisper("whisper-tiny", 384, 4, 6),
    },
    Preset {
        id: "whisper-base",
        summary: "Whisper base encoder: log-mel (80), 2 conv1d + GELU, sinusoidal positions, 6 blocks of 512",
        config: || whisper("whisper-base", 512, 6, 8),
    },
];

/// The preset called `id`.
pub fn preset(id: &str) -> Result<&'static Preset, ConfigError> {
    PRESETS.iter().find(|p| p.id == id).ok_or_else(|| ConfigError::UnknownPreset {
        id: id.to_owned(),
        known: PRESETS.iter().map(|p| p.id).collect::<Vec<_>>().join(", "),
    })
}
