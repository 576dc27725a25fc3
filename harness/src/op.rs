//! The typed operation each catalogue entry computes, with its parameters as one struct per
//! family. Backends match on [`Op`] exhaustively (never on kernel ids), so a new family is a
//! compile error in every backend until that backend runs it or says why it cannot.

use crate::catalogue::DType;
use crate::kernels::AttentionVariant;

/// `C[b] = A[b] B[b]`, row-major, `A` m x k, `B` k x n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulDims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
}

/// Row-wise kernels: `rows` independent rows of `cols` elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowsDims {
    pub rows: usize,
    pub cols: usize,
}

/// Causal multi-head attention over `[batch, heads, seq_len, head_dim]` tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionDims {
    pub batch: usize,
    pub heads: usize,
    pub seq_len: usize,
    pub head_dim: usize,
    /// Keys each query attends to, itself included: `seq_len` unless the variant is windowed.
    pub window: usize,
}

/// Paged KV-cache decode: `layers * heads` caches of `context` tokens, then `steps` new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvDims {
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub page_size: usize,
    pub context: usize,
    pub steps: usize,
}

/// Log-mel spectrogram of `millis` ms of 16 kHz audio into `n_mels` bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogMelDims {
    pub millis: usize,
    pub n_mels: usize,
}

/// 1-D convolution with zero padding `kernel / 2` and a bias per output channel (Whisper's
/// audio front end): x is channel-major, `c_in` rows of `length` samples `in_stride` apart;
/// y is `(c_out, out_len)`, or `(out_len, c_out)` when `time_major` (the transformer's layout,
/// so the last convolution needs no transpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dDims {
    pub c_in: usize,
    pub c_out: usize,
    pub length: usize,
    pub kernel: usize,
    pub stride: usize,
    pub in_stride: usize,
    pub time_major: bool,
}

impl Conv1dDims {
    pub fn pad(&self) -> usize {
        self.kernel / 2
    }

    /// Output positions: `(length + 2 pad - kernel) / stride + 1`.
    pub fn out_len(&self) -> usize {
        (self.length + 2 * self.pad()).saturating_sub(self.kernel) / self.stride + 1
    }

    /// Index of output channel `o` at position `t` in y's layout.
    pub fn out_index(&self, o: usize, t: usize) -> usize {
        if self.time_major { t * self.c_out + o } else { o * self.out_len() + t }
    }
}

/// RoPE over (tokens, heads, head_dim) at positions `offset..offset + tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RopeDims {
    pub tokens: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub theta: u32,
    pub offset: usize,
}

/// Rows of a (vocab, hidden) table for `tokens` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingDims {
    pub tokens: usize,
    pub vocab: usize,
    pub hidden: usize,
}

/// A block of `tokens` queries at positions `first..` over a paged cache (grouped-query when
/// `kv_heads < heads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheDims {
    pub tokens: usize,
    pub first: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub page_size: usize,
    pub causal: bool,
}

impl CacheDims {
    /// Positions the block's last query can see: the cached ones and the block.
    pub fn keys(&self) -> usize {
        self.first + self.tokens
    }

    /// Positions query `t` of the block sees.
    pub fn keys_of(&self, t: usize) -> usize {
        if self.causal { self.first + t + 1 } else { self.keys() }
    }

    /// Flops and bytes: QK^T and PV over every (query, key seen) pair, Q and O once, the block's
    /// K and V appended, and each seen K and V row read.
    pub fn work(&self) -> crate::schema::Work {
        let f = |v: usize| v as f64;
        let pairs: f64 = (0..self.tokens).map(|t| f(self.keys_of(t))).sum();
        let q_row = f(self.heads * self.head_dim);
        let kv_row = f(self.kv_heads * self.head_dim);
        crate::schema::Work {
            flops: 4.0 * pairs * q_row,
            bytes: 4.0 * (2.0 * f(self.tokens) * q_row + 2.0 * pairs * kv_row + 2.0 * f(self.tokens) * kv_row),
        }
    }
}

/// The training operations. Each reads its forward's inputs and the output gradient `dy`
/// ([`crate::kernels::BackwardInputs`]) and writes its gradients one after another into one
/// output, in the order listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradOp {
    /// `y = x w`, x (m, k), w (k, n): dx, then dw.
    Matmul {
        m: usize,
        k: usize,
        n: usize,
    },
    /// dx, dgamma, dbeta.
    LayerNorm(RowsDims),
    /// dx, dgamma.
    RmsNorm(RowsDims),
    /// From the forward's output y (the saved input): dx.
    Softmax(RowsDims),
    Gelu {
        len: usize,
        erf: bool,
    },
    Silu {
        len: usize,
    },
    /// dgate, then dup.
    SwiGlu {
        len: usize,
    },
    /// Mean cross-entropy of `rows` rows of `cols` logits against target ids: dlogits, then each
    /// row's loss. Inputs [`crate::kernels::CrossEntropyInputs`].
    CrossEntropy {
        dims: RowsDims,
        dtype: DType,
    },
    /// The table's gradient from the ids and dy.
    Embedding(EmbeddingDims),
    /// Causal (window-limited) attention: dq, dk, dv.
    Attention(AttentionDims),
    /// One AdamW step `step` with [`crate::kernels::ADAMW`]: p', m', v'. Inputs
    /// [`crate::kernels::AdamWInputs`].
    AdamW {
        len: usize,
        step: u32,
        dtype: DType,
    },
}

/// The practical-peak microbenchmarks ([`crate::kernels::PeakCopy`], [`crate::kernels::PeakFma`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakOp {
    /// `y = x` over `len` f32: bandwidth.
    Copy { len: usize },
    /// `threads` x 16 independent chains of `iters` FMAs in `dtype` arithmetic (f32 storage),
    /// each chain `a = a m + x (1 - m)` with m = [`crate::kernels::FMA_M`]; y is each
    /// thread's sum of its chains.
    Fma { threads: usize, iters: usize, dtype: DType },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Matmul {
        dims: MatmulDims,
        dtype: DType,
    },
    /// Every `dtype` is the storage type; arithmetic is f32 (f16: inputs and output are fp16
    /// values).
    Softmax {
        dims: RowsDims,
        dtype: DType,
    },
    /// `erf`: the exact form; otherwise the tanh approximation.
    Gelu {
        len: usize,
        erf: bool,
        dtype: DType,
    },
    /// `x * sigmoid(x)`.
    Silu {
        len: usize,
        dtype: DType,
    },
    /// `silu(gate) * up`: inputs gate, then up.
    SwiGlu {
        len: usize,
        dtype: DType,
    },
    LayerNorm {
        dims: RowsDims,
        dtype: DType,
    },
    RmsNorm {
        dims: RowsDims,
        dtype: DType,
    },
    Attention {
        dims: AttentionDims,
        variant: AttentionVariant,
        dtype: DType,
    },
    LogMel(LogMelDims),
    /// 1-D convolution with bias; inputs x, the (c_out, c_in, kernel) weights, the bias.
    Conv1d {
        dims: Conv1dDims,
        dtype: DType,
    },
    /// `stream`: prefill, then `steps` decode steps back to back; otherwise one decode step.
    KvCache {
        dims: KvDims,
        stream: bool,
        dtype: DType,
    },
    /// Rotary position embedding, rotate-half convention; inputs x, then the cos/sin table.
    Rope {
        dims: RopeDims,
        dtype: DType,
    },
    /// Embedding lookup; inputs the table, then the ids.
    Embedding {
        dims: EmbeddingDims,
        dtype: DType,
    },
    /// `a + b[i % b_len]`: residuals and biases.
    Add {
        len: usize,
        b_len: usize,
        dtype: DType,
    },
    /// Append K/V to a paged cache and attend: the attention of every model.
    CachedAttention {
        dims: CacheDims,
        dtype: DType,
    },
    /// `y = x W^T` with W (n, k) block-quantised along k (q8/q4), dequantised in the kernel;
    /// inputs x and the f32 weights, which the backend quantises as [`crate::quant`] does.
    QuantMatmul {
        dims: MatmulDims,
        format: crate::quant::QuantFormat,
    },
    /// `y = x W^T` as int8 x int8 products: W q8 as in [`Op::QuantMatmul`], x quantised at run
    /// time per block of 32 ([`crate::quant::quantize_activations`]); inputs x and the f32
    /// weights.
    Int8Matmul {
        dims: MatmulDims,
    },
    /// A training kernel: a backward pass, the loss, or the optimiser step (f32 only).
    Grad(GradOp),
    /// Logits of one hidden state against a (vocab, hidden) table, argmax on the device.
    LmHead {
        hidden: usize,
        vocab: usize,
        dtype: DType,
    },
    /// A practical-peak microbenchmark.
    Peak(PeakOp),
}

impl Op {
    /// The storage type: f16 for the fp16 variants, q8/q4 for the quantised products, f32 for
    /// everything else.
    pub fn dtype(&self) -> DType {
        match *self {
            Op::QuantMatmul { format: crate::quant::QuantFormat::Q8, .. } | Op::Int8Matmul { .. } => DType::Q8,
            Op::QuantMatmul { format: crate::quant::QuantFormat::Q4, .. } => DType::Q4,
            mut op => op.dtype_field().map_or(DType::F32, |d| *d),
        }
    }

    /// The same operation with `dtype` storage; operations with one storage type only keep it.
    pub fn with_dtype(mut self, to: DType) -> Op {
        if let Some(d) = self.dtype_field() {
            *d = to;
        }
        self
    }

    /// The storage-type field of the operations that have one.
    fn dtype_field(&mut self) -> Option<&mut DType> {
        match self {
            Op::Matmul { dtype, .. }
            | Op::Softmax { dtype, .. }
            | Op::Gelu { dtype, .. }
            | Op::Silu { dtype, .. }
            | Op::SwiGlu { dtype, .. }
            | Op::LayerNorm { dtype, .. }
            | Op::RmsNorm { dtype, .. }
            | Op::Attention { dtype, .. }
            | Op::Conv1d { dtype, .. }
            | Op::KvCache { dtype, .. }
            | Op::Rope { dtype, .. }
            | Op::Embedding { dtype, .. }
            | Op::Add { dtype, .. }
            | Op::CachedAttention { dtype, .. }
            | Op::LmHead { dtype, .. } => Some(dtype),
            // Audio features stay f32 (as Whisper computes them); a quantised product's format
            // is its own.
            // The loss reads fp16 logits and AdamW fp16 weights and gradients in their fp16
            // variants; the backward kernels are f32.
            Op::Grad(GradOp::CrossEntropy { dtype, .. } | GradOp::AdamW { dtype, .. }) => Some(dtype),
            // The arithmetic's type; the copy moves bytes of no particular precision.
            Op::Peak(PeakOp::Fma { dtype, .. }) => Some(dtype),
            Op::Peak(PeakOp::Copy { .. }) => None,
            Op::LogMel(_) | Op::QuantMatmul { .. } | Op::Int8Matmul { .. } | Op::Grad(_) => None,
        }
    }
}
