//! Model configs (`--config FILE.json` in accelbench's own format; Hugging Face `config.json`
//! files are translated by `harness::model`) and the `accelbench models --json` listing.

use serde::{Deserialize, Serialize};

/// What kind of network, which fixes its block order and its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelFamily {
    /// Token embeddings, causal blocks, LM head (GPT-2, LLaMA, Qwen).
    Decoder,
    /// Token embeddings, bidirectional blocks (BERT).
    Encoder,
    /// Log-mel spectrogram, two conv1d + GELU, sinusoidal positions, bidirectional blocks
    /// (Whisper's encoder).
    AudioEncoder,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormKind {
    LayerNorm,
    RmsNorm,
}

/// The MLP: `Gelu` is up, GELU, down (two matrices); `SwiGlu` is silu(gate) * up, down (three).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Gelu,
    SwiGlu,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Positions {
    /// A learned table of `context` rows.
    Learned,
    /// Rotary embeddings with this base.
    Rope { theta: f64 },
    /// Fixed sinusoids (computed, not stored as weights).
    Sinusoidal,
}

/// A model's shapes: everything needed to build its operations and random weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub family: ModelFamily,
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    /// Heads of K and V (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    /// Token vocabulary; 0 for the audio encoder (no embedding table).
    pub vocab: usize,
    /// Longest sequence (tokens, or audio frames after the strided conv).
    pub context: usize,
    pub norm: NormKind,
    pub activation: Activation,
    pub positions: Positions,
    pub causal: bool,
    /// The LM head shares the token embedding (decoders).
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Biases on Q, K, V, O and the MLP (GPT-2, BERT, Whisper) rather than none (LLaMA).
    #[serde(default)]
    pub linear_bias: bool,
    /// Biases on Q, K and V only (Qwen2).
    #[serde(default)]
    pub qkv_bias: bool,
    /// Mel bins of the audio encoder's input.
    #[serde(default)]
    pub n_mels: usize,
}

/// Weight bytes of a model at one storage precision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DtypeBytes {
    /// `f32`, `f16`, `int8` (per-channel scales in f32 included).
    pub dtype: String,
    pub weight_bytes: u64,
    /// K and V of one token over every layer.
    pub kv_bytes_per_token: u64,
}

/// A model at one scale as `accelbench models` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelScale {
    /// `quick` or `full`.
    pub scale: String,
    pub config: ModelConfig,
    pub parameters: u64,
    pub memory: Vec<DtypeBytes>,
    /// The largest single weight tensor (name, f32 bytes): what must fit one storage binding.
    pub largest_tensor: String,
    pub largest_tensor_bytes: u64,
}

/// One line of `accelbench models --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub preset: String,
    pub summary: String,
    pub scales: Vec<ModelScale>,
}

/// Percentiles of a latency distribution, ns.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub n: u64,
    pub p50_ns: f64,
    pub p90_ns: f64,
    pub p99_ns: f64,
}

/// A training run's figures: steps on one fixed batch (forward, loss, backward, AdamW), each
/// timed on the host from submit to its loss read back, and the loss curve beside the f64
/// reference's from the same weights and batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingMetrics {
    pub preset: String,
    /// `quick` or `full`.
    pub scale: String,
    /// Tokens per step (one sequence; next-token targets).
    pub tokens: u64,
    pub parameters: u64,
    pub steps: u64,
    /// The first step, submit to its loss on the host: drivers that compile or place lazily
    /// (OpenGL) pay it here, so it is reported apart.
    pub first_step_ns: f64,
    /// Every later step, submit to its loss on the host.
    pub step_latency_ns: Percentiles,
    pub steps_per_s: f64,
    pub tokens_per_s: f64,
    /// Useful flops per step (forward and backward products, the update) over the median step.
    pub gflops: f64,
    /// Mean cross-entropy each step's forward pass saw.
    pub losses: Vec<f64>,
    pub reference_losses: Vec<f64>,
    /// Largest |loss - reference| / reference over the steps.
    pub max_loss_rel_err: f64,
    /// Bytes of every buffer the step allocated (weights, moments, activations, gradients).
    pub device_bytes: u64,
}

/// Bytes a model run allocated on the device, by what they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceBytes {
    pub weights: u64,
    pub kv_cache: u64,
    /// Activations, score scratch, token ids, logits, RoPE tables and uniforms.
    pub activations: u64,
    pub total: u64,
}

/// A model record's figures, as llama-bench (pp/tg) and ONNX Runtime's model benchmark report
/// them. Rates and latencies come from the device timer's per-pass times (the prompt is one
/// pass, each decode step one) unless named `host_`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMetrics {
    pub preset: String,
    /// `quick` or `full`.
    pub scale: String,
    pub family: ModelFamily,
    pub prompt_tokens: u64,
    /// Decode steps after the prompt (0 for encoders).
    pub generated_tokens: u64,
    pub batch: u64,
    /// Median time of the prompt's pass, which ends with the first token's id on the device.
    pub ttft_ns: Option<f64>,
    pub prefill_tokens_per_s: Option<f64>,
    /// Generated tokens over the median of the decode steps' total time.
    pub decode_tokens_per_s: Option<f64>,
    /// Every decode step of every sample.
    pub token_latency_ns: Option<Percentiles>,
    /// Submit of a decode step to its token id read back on the host: what a page waits for.
    pub host_token_latency_ns: Option<Percentiles>,
    /// Encoders: median time of one forward pass over the input.
    pub encoder_latency_ns: Option<f64>,
    pub device_bytes: DeviceBytes,
    /// Peak resident set of the process (native runs, Linux), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Leading generated tokens of the device's free-running decode equal to the reference's
    /// greedy ones (near-ties may legitimately diverge; the check itself uses forced decoding).
    pub greedy_tokens_matched: Option<u64>,
    /// The token ids this backend generated on its own (decoders): the prefill's, then one per
    /// decode step, for replaying the stream at its measured pace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generated: Vec<u32>,
    /// What the checked output was compared against, e.g. `f64 reference, forced decoding`.
    pub checked_against: String,
}
