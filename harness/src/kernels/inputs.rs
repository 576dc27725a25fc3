//! The named inputs of each kernel family: what `generate` produces, the reference reads, plans
//! upload and every native backend converts. One struct per family, so a backend names `q`,
//! `gamma` or `page_table`, never an index into a list.

/// One problem's host-side inputs; a pure function of (kernel, parameters, seed).
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    Matmul(MatmulInputs),
    /// Softmax, GELU and SiLU: one tensor in, one out.
    Unary(UnaryInputs),
    Glu(GluInputs),
    Norm(NormInputs),
    Attention(AttentionInputs),
    Audio(AudioInputs),
    Conv1d(Conv1dInputs),
    Quant(QuantInputs),
    KvCache(KvCacheInputs),
    Rope(RopeInputs),
    Embedding(EmbeddingInputs),
    Add(AddInputs),
    CachedAttention(CachedAttentionInputs),
    LmHead(LmHeadInputs),
    /// A backward kernel's: its forward's inputs (or saved activation) and the output gradient.
    Backward(BackwardInputs),
    CrossEntropy(CrossEntropyInputs),
    AdamW(AdamWInputs),
}

/// What a backward kernel reads: the forward's inputs as the forward family holds them (for
/// softmax, its output y, the activation training saves) and `dy`, the gradient of the
/// forward's output.
#[derive(Debug, Clone, PartialEq)]
pub struct BackwardInputs {
    pub forward: Box<Inputs>,
    pub dy: Vec<f32>,
}

/// Logits (rows, vocab) and each row's target id.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyInputs {
    pub logits: Vec<f32>,
    pub targets: Vec<u32>,
}

/// One AdamW step's parameters, gradients and the two moments.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamWInputs {
    pub p: Vec<f32>,
    pub g: Vec<f32>,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

/// A quantised product's activations x (m, k) and its f32 weights w (n, k), rows the output
/// features as a linear layer stores them; kernels quantise w deterministically.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantInputs {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
}

/// A convolution's signal x (c_in, in_stride), weights (c_out, c_in, kernel) and bias (c_out).
#[derive(Debug, Clone, PartialEq)]
pub struct Conv1dInputs {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// `y = a + b` with `b` repeated along `a` (a residual when as long, a bias when one row).
#[derive(Debug, Clone, PartialEq)]
pub struct AddInputs {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

/// Attention over a paged cache: the positions already cached (`pre_k`, `pre_v`: (first,
/// kv_heads, head_dim)), the block's queries (tokens, heads, head_dim) and new K, V (tokens,
/// kv_heads, head_dim), and the page table (logical page to physical).
#[derive(Debug, Clone, PartialEq)]
pub struct CachedAttentionInputs {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub pre_k: Vec<f32>,
    pub pre_v: Vec<f32>,
    pub page_table: Vec<u32>,
}

/// The LM head: the final hidden state `x` (hidden) and the (vocab, hidden) output table.
#[derive(Debug, Clone, PartialEq)]
pub struct LmHeadInputs {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
}

/// `C = A B` per batch: `a` is (batch, m, k), `b` (batch, k, n), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct MatmulInputs {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnaryInputs {
    pub x: Vec<f32>,
}

/// SwiGLU: `silu(gate) * up`, elementwise.
#[derive(Debug, Clone, PartialEq)]
pub struct GluInputs {
    pub gate: Vec<f32>,
    pub up: Vec<f32>,
}

/// LayerNorm and RMSNorm over rows of `x`; RMSNorm ignores `beta`.
#[derive(Debug, Clone, PartialEq)]
pub struct NormInputs {
    pub x: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// Q, K, V: (batch, heads, seq_len, head_dim), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionInputs {
    pub q: Vec<f32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

/// Mono 16 kHz samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioInputs {
    pub pcm: Vec<f32>,
}

/// A paged KV cache: the prefilled context (`pre_k`, `pre_v`: (lh, context, head_dim)), each
/// decode step's new K, V and query ((steps, lh, head_dim)), and the page table mapping
/// (lh, logical page) to a physical page of the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct KvCacheInputs {
    pub pre_k: Vec<f32>,
    pub pre_v: Vec<f32>,
    pub new_k: Vec<f32>,
    pub new_v: Vec<f32>,
    pub query: Vec<f32>,
    pub page_table: Vec<u32>,
}

/// RoPE: `x` (tokens, heads, head_dim) and the cos/sin table (tokens, head_dim / 2) of each
/// token's position.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeInputs {
    pub x: Vec<f32>,
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
}

/// An embedding table (vocab, hidden) and the token ids to look up.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingInputs {
    pub table: Vec<f32>,
    pub ids: Vec<u32>,
}

impl Inputs {
    /// Rounds every f32 input to the nearest fp16 (ids and page tables untouched): what an fp16
    /// variant's GPU reads, so its reference computes on the same values.
    pub fn round_f16(&mut self) {
        let mut all: Vec<&mut Vec<f32>> = match self {
            Inputs::Backward(b) => {
                b.forward.round_f16();
                vec![&mut b.dy]
            }
            Inputs::CrossEntropy(i) => vec![&mut i.logits],
            // fp16 weights and gradients; the moments stay f32.
            Inputs::AdamW(i) => vec![&mut i.p, &mut i.g],
            Inputs::Matmul(i) => vec![&mut i.a, &mut i.b],
            Inputs::Unary(i) => vec![&mut i.x],
            Inputs::Glu(i) => vec![&mut i.gate, &mut i.up],
            Inputs::Norm(i) => vec![&mut i.x, &mut i.gamma, &mut i.beta],
            Inputs::Attention(i) => vec![&mut i.q, &mut i.k, &mut i.v],
            Inputs::Audio(i) => vec![&mut i.pcm],
            Inputs::Conv1d(i) => vec![&mut i.x, &mut i.w, &mut i.b],
            Inputs::Quant(i) => vec![&mut i.x, &mut i.w],
            Inputs::KvCache(i) => vec![&mut i.pre_k, &mut i.pre_v, &mut i.new_k, &mut i.new_v, &mut i.query],
            Inputs::Rope(i) => vec![&mut i.x, &mut i.cos, &mut i.sin],
            Inputs::Embedding(i) => vec![&mut i.table],
            Inputs::Add(i) => vec![&mut i.a, &mut i.b],
            Inputs::CachedAttention(i) => vec![&mut i.q, &mut i.k, &mut i.v, &mut i.pre_k, &mut i.pre_v],
            Inputs::LmHead(i) => vec![&mut i.x, &mut i.w],
        };
        for v in all.iter_mut() {
            for x in v.iter_mut() {
                *x = half::f16::from_f32(*x).to_f32();
            }
        }
    }
}

macro_rules! accessors {
    ($($name:ident: $variant:ident => $ty:ty;)*) => {
        impl Inputs {
            /// The variant's name, for messages.
            pub fn family(&self) -> &'static str {
                match self {
                    $(Inputs::$variant(_) => stringify!($variant),)*
                }
            }
            $(
                /// These inputs as the family's struct.
                ///
                /// # Panics
                /// If they are another family's: a kernel's inputs always come from its own
                /// `generate`, so this is a programming error, never bad user input.
                pub fn $name(&self) -> &$ty {
                    match self {
                        Inputs::$variant(v) => v,
                        other => panic!(concat!("expected ", stringify!($variant), " inputs, got {}"), other.family()),
                    }
                }
            )*
        }
    };
}

accessors! {
    matmul: Matmul => MatmulInputs;
    unary: Unary => UnaryInputs;
    glu: Glu => GluInputs;
    norm: Norm => NormInputs;
    attention: Attention => AttentionInputs;
    audio: Audio => AudioInputs;
    conv1d: Conv1d => Conv1dInputs;
    quant: Quant => QuantInputs;
    backward: Backward => BackwardInputs;
    cross_entropy: CrossEntropy => CrossEntropyInputs;
    adamw: AdamW => AdamWInputs;
    kv_cache: KvCache => KvCacheInputs;
    rope: Rope => RopeInputs;
    embedding: Embedding => EmbeddingInputs;
    add: Add => AddInputs;
    cached_attention: CachedAttention => CachedAttentionInputs;
    lm_head: LmHead => LmHeadInputs;
}
