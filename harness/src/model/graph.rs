//! A model as a sequence of catalogue operations over named tensors: the graph a config builds
//! (weights, activations, the paged KV cache, token ids, logits), the prompt's forward pass and
//! one node list per decode step. Every executor (the f64 reference, wgpu natively and in the
//! browser, native-cpu) interprets these nodes; none has its own copy of a model.

use crate::kernels::work;
use crate::op::{CacheDims, Conv1dDims, MatmulDims};
use crate::quant::QuantFormat;
use crate::schema::{Activation, ModelConfig, ModelFamily, NormKind, Positions, Work};

/// Index into [`Graph::tensors`].
pub type TensorId = usize;

/// What a tensor holds, which decides how executors allocate it and how memory is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// A parameter from [`super::tensors`], random from the seed.
    Weight,
    /// Computed from the config alone (RoPE tables, sinusoids, position ids, the page table).
    Constant,
    /// Written and read within a pass.
    Activation,
    /// Keys and values kept across decode steps.
    KvCache,
    /// Token ids (u32): the prompt, then each generated token, written on the device.
    Tokens,
    /// One row of logits per generated token (decoders) or the encoder's output: what is checked.
    Output,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TensorDesc {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: TensorKind,
    /// Element type is u32 rather than f32 (ids, the page table).
    pub ids: bool,
}

impl TensorDesc {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One catalogue operation on tensors. Rows are token-major throughout: `(tokens, features)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Node {
    /// `out[t] = table[ids[first + t]]` (catalogue `embedding`).
    Embed { table: TensorId, ids: TensorId, first: usize, tokens: usize, hidden: usize, out: TensorId },
    /// Row-wise norm (catalogue `layernorm`/`rmsnorm`); `beta` only for LayerNorm.
    Norm {
        kind: NormKind,
        x: TensorId,
        gamma: TensorId,
        beta: Option<TensorId>,
        rows: usize,
        cols: usize,
        out: TensorId,
    },
    /// `out = x w`, x (m, k), w (k, n) (catalogue `matmul-f32`).
    Matmul { x: TensorId, w: TensorId, m: usize, k: usize, n: usize, out: TensorId },
    /// `out[i] = a[i] + b[i % b_len]` (catalogue `add`): residuals, biases, positions.
    Add { a: TensorId, b: TensorId, len: usize, b_len: usize, out: TensorId },
    /// Exact (erf) or tanh GELU (catalogue `gelu-*`).
    Gelu { x: TensorId, len: usize, erf: bool, out: TensorId },
    /// `silu(gate) * up` (catalogue `swiglu`).
    SwiGlu { gate: TensorId, up: TensorId, len: usize, out: TensorId },
    /// Rotary embedding at positions `first..first + tokens` (catalogue `rope`).
    Rope {
        x: TensorId,
        cos: TensorId,
        sin: TensorId,
        tokens: usize,
        heads: usize,
        head_dim: usize,
        first: usize,
        out: TensorId,
    },
    /// Append K/V at `first..first + tokens` to the paged cache, then attend (catalogue
    /// `attention-cache`).
    Attention {
        q: TensorId,
        k: TensorId,
        v: TensorId,
        page_table: TensorId,
        k_cache: TensorId,
        v_cache: TensorId,
        scores: TensorId,
        dims: CacheDims,
        /// Row stride of the score scratch: every position the graph reaches.
        max_keys: usize,
        out: TensorId,
    },
    /// Log-mel spectrogram of `samples` of 16 kHz audio into `(n_mels, samples / hop)`
    /// (catalogue `logmel`); the tables are what the shader reads beside the samples.
    LogMel {
        pcm: TensorId,
        window: TensorId,
        twiddle: TensorId,
        ranges: TensorId,
        weights: TensorId,
        samples: usize,
        n_mels: usize,
        out: TensorId,
    },
    /// 1-D convolution with bias (catalogue `conv1d`).
    Conv1d { x: TensorId, w: TensorId, b: TensorId, dims: Conv1dDims, out: TensorId },
    /// `out = x W` with W block-quantised (catalogue `matmul-q8`/`q4`, `gemv-*` at one row):
    /// `w` the packed levels of W^T (n rows of k), `scales` its packed f16 block scales.
    QuantMatmul {
        x: TensorId,
        w: TensorId,
        scales: TensorId,
        m: usize,
        k: usize,
        n: usize,
        format: QuantFormat,
        out: TensorId,
    },
    /// Logits of `x[row]` against the (vocab, hidden) table into `logits[step]`, and the argmax
    /// into `ids[slot]` (catalogue `lm-head`).
    LmHead {
        x: TensorId,
        w: TensorId,
        row: usize,
        hidden: usize,
        vocab: usize,
        step: usize,
        slot: usize,
        logits: TensorId,
        ids: TensorId,
    },
}

/// Tokens per KV-cache page.
pub const PAGE_SIZE: usize = 16;

/// A model's graph for one prompt length and number of generated tokens.
#[derive(Clone, Debug)]
pub struct Graph {
    pub config: ModelConfig,
    pub prompt: usize,
    /// Decode steps after the prompt (decoders; 0 for encoders).
    pub generate: usize,
    pub tensors: Vec<TensorDesc>,
    /// The prompt's forward pass: for a decoder it ends with the first generated token.
    pub prefill: Vec<Node>,
    /// Decode step s (from 1): the token at position prompt + s - 1 in, logits row s and the
    /// token at prompt + s out.
    pub steps: Vec<Vec<Node>>,
    /// Token ids, `prompt + generate + 1` of them (decoders; the prompt for encoders).
    pub tokens: TensorId,
    /// What is checked: logits `(generate + 1, vocab)` or the encoder's last hidden state.
    pub output: TensorId,
    /// The linear layers' weights block-quantised (embeddings, norms, biases and the LM head
    /// stay f32); `None`: every weight f32.
    pub quant: Option<QuantFormat>,
    /// fp16 storage ([`super::ModelPrecision::F16`]): every float tensor but those
    /// [`Graph::stays_f32`] names is f16 on the device, and host executors round each node's
    /// output to f16 as the device stores it.
    pub half: bool,
}

/// Why a config cannot be built into a graph.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("{model}: `{field}` = {value}: {why}")]
    Invalid { model: String, field: &'static str, value: usize, why: &'static str },
}

impl Graph {
    /// The graph of `cfg` for a `prompt`-token input and `generate` decode steps (decoders).
    pub fn build(cfg: &ModelConfig, prompt: usize, generate: usize) -> Result<Graph, GraphError> {
        Graph::build_quantized(cfg, prompt, generate, None)
    }

    /// [`Graph::build`] at `precision`. fp16 starts from tokens: an audio encoder's log-mel
    /// features stay f32, as Whisper computes them, so it runs at f32 or quantised weights.
    pub fn build_at(
        cfg: &ModelConfig,
        prompt: usize,
        generate: usize,
        precision: super::ModelPrecision,
    ) -> Result<Graph, GraphError> {
        if precision.half() && cfg.family == ModelFamily::AudioEncoder {
            return Err(GraphError::Invalid {
                model: cfg.name.clone(),
                field: "n_mels",
                value: cfg.n_mels,
                why: "an audio encoder's log-mel features stay f32 (as Whisper computes them): run it at f32, q8 or q4",
            });
        }
        let mut g = Graph::build_quantized(cfg, prompt, generate, precision.quant())?;
        g.half = precision.half();
        Ok(g)
    }

    /// [`Graph::build`] with the linear layers' weights in `quant` (q8, q4): each (in, out)
    /// matrix held as its transpose's blocks of 32 along `in`, multiplied by the quantised
    /// GEMM (the prompt) and GEMV (decode steps).
    pub fn build_quantized(
        cfg: &ModelConfig,
        prompt: usize,
        generate: usize,
        quant: Option<QuantFormat>,
    ) -> Result<Graph, GraphError> {
        let bad = |field, value, why| Err(GraphError::Invalid { model: cfg.name.clone(), field, value, why });
        let generate = if cfg.family == ModelFamily::Decoder { generate } else { 0 };
        if prompt == 0 {
            return bad("prompt", prompt, "at least one token");
        }
        if prompt + generate > cfg.context {
            return bad("prompt + generate", prompt + generate, "longer than the model's context");
        }
        if cfg.kv_heads == 0 || !cfg.heads.is_multiple_of(cfg.kv_heads) {
            return bad("kv_heads", cfg.kv_heads, "must divide heads");
        }
        if !cfg.head_dim.is_multiple_of(2) && matches!(cfg.positions, Positions::Rope { .. }) {
            return bad("head_dim", cfg.head_dim, "RoPE rotates pairs: must be even");
        }
        if quant.is_some() {
            let widths = [("hidden", cfg.hidden), ("ffn", cfg.ffn), ("heads * head_dim", cfg.heads * cfg.head_dim)];
            if let Some((field, value)) = widths.into_iter().find(|(_, v)| !v.is_multiple_of(crate::quant::BLOCK)) {
                return bad(field, value, "must be a multiple of 32 for block-quantised weights");
            }
        }
        let mut b = Builder { cfg, tensors: Vec::new(), keys: prompt + generate, quant };
        let tokens_len = prompt + generate + 1;
        let tokens = b.tensor("tokens", &[tokens_len], TensorKind::Tokens, true);
        let output = if cfg.family == ModelFamily::Decoder {
            b.tensor("logits", &[generate + 1, cfg.vocab], TensorKind::Output, false)
        } else {
            b.tensor("hidden_out", &[prompt, cfg.hidden], TensorKind::Output, false)
        };
        let w = b.weights();
        let consts = b.constants();
        let acts = b.activations(prompt);
        let audio = (cfg.family == ModelFamily::AudioEncoder).then(|| b.audio(prompt));
        let input = match &audio {
            Some(a) => Input::Audio(a),
            None => Input::Tokens(tokens),
        };
        let prefill = b.forward(&w, &consts, &acts, input, output, prompt, 0, 0);
        let steps =
            (1..=generate).map(|s| b.forward(&w, &consts, &acts, input, output, 1, prompt + s - 1, s)).collect();
        Ok(Graph {
            config: cfg.clone(),
            prompt,
            generate,
            tensors: b.tensors,
            prefill,
            steps,
            tokens,
            output,
            quant,
            half: false,
        })
    }

    /// Elements of the checked output.
    pub fn output_len(&self) -> usize {
        self.tensors[self.output].elements()
    }

    /// Length of the token-id tensor.
    pub fn tokens_len(&self) -> usize {
        self.tensors[self.tokens].elements()
    }

    pub fn id(&self, name: &str) -> Option<TensorId> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// Bytes of every tensor of `kind` (f32 or u32 elements).
    pub fn bytes(&self, kind: TensorKind) -> u64 {
        self.tensors.iter().filter(|t| t.kind == kind).map(|t| self.tensor_bytes(t)).sum()
    }

    /// Whether float tensor `t` keeps f32 storage in an fp16 graph: what the `-f16` kernels
    /// keep f32 (the LM head's logits, the attention scores, the RoPE tables).
    pub fn stays_f32(&self, t: &TensorDesc) -> bool {
        (t.kind == TensorKind::Output && self.config.family == ModelFamily::Decoder)
            || matches!(t.name.as_str(), "scores" | "rope.cos" | "rope.sin")
    }

    /// Whether tensor `t` is f16 on the device.
    pub fn is_half(&self, t: &TensorDesc) -> bool {
        self.half && !t.ids && !self.stays_f32(t)
    }

    fn tensor_bytes(&self, t: &TensorDesc) -> u64 {
        (if self.is_half(t) { 2 } else { 4 }) * t.elements() as u64
    }

    /// Every node in execution order: the prompt, then each decode step.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.passes().flatten()
    }

    /// The node lists of the passes: the prompt's (or the encoder's), then each decode step's.
    pub fn passes(&self) -> impl Iterator<Item = &[Node]> {
        std::iter::once(self.prefill.as_slice()).chain(self.steps.iter().map(Vec::as_slice))
    }

    /// The passes' names, as records list their phases: `prefill` (`encode` for an encoder),
    /// then `decode 1`, `decode 2`, ...
    pub fn pass_labels(&self) -> Vec<String> {
        let first = if self.steps.is_empty() { "encode" } else { "prefill" };
        std::iter::once(first.to_owned()).chain((1..=self.steps.len()).map(|i| format!("decode {i}"))).collect()
    }

    /// Bytes of every tensor (what a device must hold at once, unsplit).
    pub fn total_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| self.tensor_bytes(t)).sum()
    }

    /// The largest tensor: (name, bytes).
    pub fn largest_tensor(&self) -> (&str, u64) {
        self.tensors
            .iter()
            .map(|t| (t.name.as_str(), self.tensor_bytes(t)))
            .fold(("", 0), |a, b| if b.1 > a.1 { b } else { a })
    }

    /// Floating-point operations and bytes moved by every node, as the catalogue counts each
    /// kernel.
    pub fn work(&self) -> Work {
        self.nodes()
            .map(node_work)
            .fold(Work { flops: 0.0, bytes: 0.0 }, |a, w| Work { flops: a.flops + w.flops, bytes: a.bytes + w.bytes })
    }
}

/// A node's work as its catalogue kernel counts it.
fn node_work(n: &Node) -> Work {
    match *n {
        Node::Embed { tokens, hidden, .. } => work::embedding(tokens, hidden),
        Node::Norm { kind, rows, cols, .. } => work::norm(kind == NormKind::RmsNorm, rows, cols),
        Node::Matmul { m, k, n, .. } => work::matmul(MatmulDims { m, n, k, batch: 1 }, 4.0),
        Node::Add { len, b_len, .. } => work::add(len, b_len),
        Node::Gelu { len, erf, .. } => work::gelu(erf, len),
        Node::SwiGlu { len, .. } => work::silu(true, len),
        Node::Rope { tokens, heads, head_dim, .. } => work::rope(tokens, heads, head_dim),
        Node::Attention { dims, .. } => dims.work(),
        Node::LmHead { hidden, vocab, .. } => work::lm_head(hidden, vocab),
        Node::LogMel { samples, n_mels, .. } => work::logmel(samples, n_mels),
        Node::Conv1d { dims, .. } => work::conv1d(dims),
        Node::QuantMatmul { m, k, n, format, .. } => work::quant_matmul(MatmulDims { m, n, k, batch: 1 }, format),
    }
}

/// Weight tensors by role, per layer.
struct Weights {
    tok: Option<TensorId>,
    /// Whisper's two convolutions (weight, bias).
    conv: Option<[(TensorId, TensorId); 2]>,
    pos: Option<TensorId>,
    types: Option<TensorId>,
    embed_norm: Option<(TensorId, Option<TensorId>)>,
    layers: Vec<LayerWeights>,
    final_norm: Option<(TensorId, Option<TensorId>)>,
    lm_head: Option<TensorId>,
}

struct LayerWeights {
    attn_norm: (TensorId, Option<TensorId>),
    q: (TensorId, Option<TensorId>),
    k: (TensorId, Option<TensorId>),
    v: (TensorId, Option<TensorId>),
    o: (TensorId, Option<TensorId>),
    mlp_norm: (TensorId, Option<TensorId>),
    gate: Option<(TensorId, Option<TensorId>)>,
    up: (TensorId, Option<TensorId>),
    down: (TensorId, Option<TensorId>),
    k_cache: TensorId,
    v_cache: TensorId,
}

struct Constants {
    rope: Option<(TensorId, TensorId)>,
    positions: TensorId,
    zeros: TensorId,
    page_table: TensorId,
    sinusoids: Option<TensorId>,
}

/// An audio encoder's front end: the samples, the log-mel's tables and the activations of the
/// two convolutions (over `2 * prompt` mel frames, halved by the second's stride).
struct Audio {
    pcm: TensorId,
    window: TensorId,
    twiddle: TensorId,
    ranges: TensorId,
    weights: TensorId,
    samples: usize,
    n_mels: usize,
    frames: usize,
    mel: TensorId,
    conv1: TensorId,
    conv1_act: TensorId,
    conv2: TensorId,
}

/// What a pass starts from: the token ids, or the audio.
#[derive(Clone, Copy)]
enum Input<'a> {
    Tokens(TensorId),
    Audio(&'a Audio),
}

/// Activations, sized for the longest pass (the prompt); a decode step uses their first row.
struct Acts {
    x: [TensorId; 2],
    normed: TensorId,
    q: TensorId,
    k: TensorId,
    v: TensorId,
    q_rot: TensorId,
    k_rot: TensorId,
    attn: TensorId,
    pre_bias: TensorId,
    proj: TensorId,
    gate: TensorId,
    up: TensorId,
    act: TensorId,
    scores: TensorId,
}

struct Builder<'a> {
    cfg: &'a ModelConfig,
    tensors: Vec<TensorDesc>,
    /// Positions this graph reaches (prompt + generated): the cache, tables and score rows are
    /// sized for them, as a server sizes a request's allocation, not for the whole context.
    keys: usize,
    quant: Option<QuantFormat>,
}

/// Whether `name` is a linear layer's matrix (quantised in a quantised graph).
pub fn is_linear_weight(name: &str) -> bool {
    name.starts_with("layers.") && name.ends_with(".weight") && (name.contains(".attn.") || name.contains(".mlp."))
}

impl Builder<'_> {
    fn tensor(&mut self, name: &str, shape: &[usize], kind: TensorKind, ids: bool) -> TensorId {
        self.tensors.push(TensorDesc { name: name.into(), shape: shape.to_vec(), kind, ids });
        self.tensors.len() - 1
    }

    fn weights(&mut self) -> Weights {
        let base = self.tensors.len();
        for t in super::tensors(self.cfg) {
            match self.quant.filter(|_| is_linear_weight(&t.name)) {
                // (in, out) as W^T's n = out rows of k = in levels, then its scales.
                Some(f) => {
                    let (k, n) = (t.shape[0], t.shape[1]);
                    self.tensor(&t.name, &[n, k * f.bits() / 32], TensorKind::Weight, true);
                    let scales = (n * k / crate::quant::BLOCK).div_ceil(2);
                    self.tensor(&format!("{}.scales", t.name), &[scales], TensorKind::Weight, true);
                }
                None => {
                    self.tensor(&t.name, &t.shape, TensorKind::Weight, false);
                }
            }
        }
        let find =
            |tensors: &[TensorDesc], name: &str| tensors[base..].iter().position(|t| t.name == name).map(|i| base + i);
        let ts = &self.tensors;
        let pair = |name: &str| -> Option<(TensorId, Option<TensorId>)> {
            Some((find(ts, &format!("{name}.weight"))?, find(ts, &format!("{name}.bias"))))
        };
        let must = |name: &str| pair(name).unwrap_or_else(|| panic!("model::tensors lists no `{name}.weight`"));
        let cfg = self.cfg;
        let layers = (0..cfg.layers)
            .map(|l| {
                let p = format!("layers.{l}");
                (
                    must(&format!("{p}.attn_norm")),
                    must(&format!("{p}.attn.q")),
                    must(&format!("{p}.attn.k")),
                    must(&format!("{p}.attn.v")),
                    must(&format!("{p}.attn.o")),
                    must(&format!("{p}.mlp_norm")),
                    pair(&format!("{p}.mlp.gate")),
                    must(&format!("{p}.mlp.up")),
                    must(&format!("{p}.mlp.down")),
                )
            })
            .collect::<Vec<_>>();
        let tok = find(ts, "embed.tokens");
        let lm_head = if cfg.family == ModelFamily::Decoder {
            if cfg.tied_embeddings { tok } else { find(ts, "lm_head.weight") }
        } else {
            None
        };
        let conv_pair = |name: &str| pair(name).and_then(|(w, b)| Some((w, b?)));
        let w = Weights {
            tok,
            conv: conv_pair("conv1").zip(conv_pair("conv2")).map(|(a, b)| [a, b]),
            pos: find(ts, "embed.positions"),
            types: find(ts, "embed.token_types"),
            embed_norm: pair("embed.norm"),
            layers: Vec::new(),
            final_norm: pair("final_norm"),
            lm_head,
        };
        let slots = self.keys.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let kv_row = cfg.kv_heads * cfg.head_dim;
        let layers = layers
            .into_iter()
            .enumerate()
            .map(|(l, (attn_norm, q, k, v, o, mlp_norm, gate, up, down))| LayerWeights {
                attn_norm,
                q,
                k,
                v,
                o,
                mlp_norm,
                gate,
                up,
                down,
                k_cache: self.tensor(&format!("layers.{l}.k_cache"), &[slots, kv_row], TensorKind::KvCache, false),
                v_cache: self.tensor(&format!("layers.{l}.v_cache"), &[slots, kv_row], TensorKind::KvCache, false),
            })
            .collect();
        Weights { layers, ..w }
    }

    fn constants(&mut self) -> Constants {
        let (cfg, positions) = (self.cfg, self.keys);
        let rope = match cfg.positions {
            Positions::Rope { .. } => {
                let half = cfg.head_dim / 2;
                Some((
                    self.tensor("rope.cos", &[positions, half], TensorKind::Constant, false),
                    self.tensor("rope.sin", &[positions, half], TensorKind::Constant, false),
                ))
            }
            _ => None,
        };
        let sinusoids = (cfg.positions == Positions::Sinusoidal)
            .then(|| self.tensor("positions.sinusoids", &[positions, cfg.hidden], TensorKind::Constant, false));
        Constants {
            rope,
            positions: self.tensor("position_ids", &[positions], TensorKind::Constant, true),
            zeros: self.tensor("token_type_ids", &[positions], TensorKind::Constant, true),
            page_table: self.tensor("page_table", &[positions.div_ceil(PAGE_SIZE)], TensorKind::Constant, true),
            sinusoids,
        }
    }

    /// The audio front end for `prompt` encoder positions: `2 * prompt` mel frames of
    /// `static/speech.wav` (160 samples each), as Whisper's 3000 frames become 1500 positions.
    fn audio(&mut self, prompt: usize) -> Audio {
        let (cfg, h) = (self.cfg, self.cfg.hidden);
        let frames = 2 * prompt;
        let samples = frames * crate::kernels::MEL_HOP;
        let setup = crate::kernels::MelSetup::new(cfg.n_mels, samples);
        let c = TensorKind::Constant;
        Audio {
            pcm: self.tensor("audio.pcm", &[samples], c, false),
            window: self.tensor("mel.window", &[setup.n_fft], c, false),
            twiddle: self.tensor("mel.twiddle", &[setup.n_fft / 2, 2], c, false),
            ranges: self.tensor("mel.range", &[cfg.n_mels, 2], c, true),
            weights: self.tensor("mel.weight", &[cfg.n_mels, setup.n_bins], c, false),
            samples,
            n_mels: cfg.n_mels,
            frames,
            mel: self.tensor("mel", &[cfg.n_mels, frames], TensorKind::Activation, false),
            conv1: self.tensor("conv1.out", &[h, frames], TensorKind::Activation, false),
            conv1_act: self.tensor("conv1.act", &[h, frames], TensorKind::Activation, false),
            conv2: self.tensor("conv2.out", &[prompt, h], TensorKind::Activation, false),
        }
    }

    fn activations(&mut self, rows: usize) -> Acts {
        let (cfg, keys) = (self.cfg, self.keys);
        let (h, qd, kvd, ffn) = (cfg.hidden, cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim, cfg.ffn);
        let widest = h.max(qd).max(ffn);
        let mut a = |name: &str, cols: usize| self.tensor(name, &[rows, cols], TensorKind::Activation, false);
        Acts {
            x: [a("x.0", h), a("x.1", h)],
            normed: a("normed", h),
            q: a("q", qd),
            k: a("k", kvd),
            v: a("v", kvd),
            q_rot: a("q_rot", qd),
            k_rot: a("k_rot", kvd),
            attn: a("attn", qd),
            pre_bias: a("pre_bias", widest),
            proj: a("proj", h),
            gate: a("gate", ffn),
            up: a("up", ffn),
            act: a("act", ffn),
            scores: a("scores", cfg.heads * keys),
        }
    }

    /// The nodes of one pass over `tokens` tokens at positions `first..first + tokens`; for a
    /// decoder, ending with logits row `step` and the token at `first + tokens`.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        w: &Weights,
        c: &Constants,
        a: &Acts,
        input: Input<'_>,
        output: TensorId,
        tokens: usize,
        first: usize,
        step: usize,
    ) -> Vec<Node> {
        let cfg = self.cfg;
        let h = cfg.hidden;
        let mut n = Vec::new();
        let mut cur = 0usize;
        let erf = cfg.family != ModelFamily::Decoder;
        match input {
            Input::Tokens(ids) => {
                let tok = w.tok.expect("token models have an embedding table");
                n.push(Node::Embed { table: tok, ids, first, tokens, hidden: h, out: a.x[cur] });
            }
            Input::Audio(au) => {
                // Whisper: log-mel, conv k3 + GELU, conv k3 stride 2 + GELU into (positions, hidden).
                let [(w1, b1), (w2, b2)] = w.conv.expect("audio encoders have two convolutions");
                n.push(Node::LogMel {
                    pcm: au.pcm,
                    window: au.window,
                    twiddle: au.twiddle,
                    ranges: au.ranges,
                    weights: au.weights,
                    samples: au.samples,
                    n_mels: au.n_mels,
                    out: au.mel,
                });
                let conv = |c_in, stride, time_major| Conv1dDims {
                    c_in,
                    c_out: h,
                    length: au.frames,
                    kernel: 3,
                    stride,
                    in_stride: au.frames,
                    time_major,
                };
                n.push(Node::Conv1d { x: au.mel, w: w1, b: b1, dims: conv(au.n_mels, 1, false), out: au.conv1 });
                n.push(Node::Gelu { x: au.conv1, len: h * au.frames, erf: true, out: au.conv1_act });
                n.push(Node::Conv1d { x: au.conv1_act, w: w2, b: b2, dims: conv(h, 2, true), out: au.conv2 });
                n.push(Node::Gelu { x: au.conv2, len: tokens * h, erf: true, out: a.x[cur] });
            }
        }
        let add_rows = |n: &mut Vec<Node>, cur: &mut usize, b: TensorId, b_len: usize| {
            n.push(Node::Add { a: a.x[*cur], b, len: tokens * h, b_len, out: a.x[1 - *cur] });
            *cur = 1 - *cur;
        };
        if let Some(pos) = w.pos {
            n.push(Node::Embed { table: pos, ids: c.positions, first, tokens, hidden: h, out: a.proj });
            add_rows(&mut n, &mut cur, a.proj, tokens * h);
        }
        if let Some(types) = w.types {
            n.push(Node::Embed { table: types, ids: c.zeros, first: 0, tokens, hidden: h, out: a.proj });
            add_rows(&mut n, &mut cur, a.proj, tokens * h);
        }
        if let Some(s) = c.sinusoids {
            n.push(Node::Embed { table: s, ids: c.positions, first, tokens, hidden: h, out: a.proj });
            add_rows(&mut n, &mut cur, a.proj, tokens * h);
        }
        let norm = |n: &mut Vec<Node>, (gamma, beta): (TensorId, Option<TensorId>), x: TensorId, out: TensorId| {
            n.push(Node::Norm { kind: cfg.norm, x, gamma, beta, rows: tokens, cols: h, out });
        };
        if let Some(en) = w.embed_norm {
            norm(&mut n, en, a.x[cur], a.x[1 - cur]);
            cur = 1 - cur;
        }
        // Linear layer: GEMM (quantised where the weight is), then the bias (if any) broadcast
        // over rows.
        let linear = |n: &mut Vec<Node>,
                      x: TensorId,
                      (wt, bias): (TensorId, Option<TensorId>),
                      k: usize,
                      cols: usize,
                      out: TensorId| {
            let y = if bias.is_some() { a.pre_bias } else { out };
            match self.quant.filter(|_| self.tensors[wt].ids) {
                Some(format) => {
                    let name = format!("{}.scales", self.tensors[wt].name);
                    let scales = self.tensors.iter().position(|t| t.name == name).expect("scales follow their weight");
                    n.push(Node::QuantMatmul { x, w: wt, scales, m: tokens, k, n: cols, format, out: y });
                }
                None => n.push(Node::Matmul { x, w: wt, m: tokens, k, n: cols, out: y }),
            }
            if let Some(b) = bias {
                n.push(Node::Add { a: a.pre_bias, b, len: tokens * cols, b_len: cols, out });
            }
        };
        let (qd, kvd) = (cfg.heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim);
        let post_norm = cfg.family == ModelFamily::Encoder;
        let attention = CacheDims {
            tokens,
            first,
            heads: cfg.heads,
            kv_heads: cfg.kv_heads,
            head_dim: cfg.head_dim,
            page_size: PAGE_SIZE,
            causal: cfg.causal,
        };
        for l in &w.layers {
            let x_in = a.x[cur];
            let attn_in = if post_norm {
                x_in
            } else {
                norm(&mut n, l.attn_norm, x_in, a.normed);
                a.normed
            };
            linear(&mut n, attn_in, l.q, h, qd, a.q);
            linear(&mut n, attn_in, l.k, h, kvd, a.k);
            linear(&mut n, attn_in, l.v, h, kvd, a.v);
            let (q, k) = match c.rope {
                Some((cos, sin)) => {
                    let hd = cfg.head_dim;
                    n.push(Node::Rope {
                        x: a.q,
                        cos,
                        sin,
                        tokens,
                        heads: cfg.heads,
                        head_dim: hd,
                        first,
                        out: a.q_rot,
                    });
                    n.push(Node::Rope {
                        x: a.k,
                        cos,
                        sin,
                        tokens,
                        heads: cfg.kv_heads,
                        head_dim: hd,
                        first,
                        out: a.k_rot,
                    });
                    (a.q_rot, a.k_rot)
                }
                None => (a.q, a.k),
            };
            n.push(Node::Attention {
                q,
                k,
                v: a.v,
                page_table: c.page_table,
                k_cache: l.k_cache,
                v_cache: l.v_cache,
                scores: a.scores,
                dims: attention,
                max_keys: self.keys,
                out: a.attn,
            });
            linear(&mut n, a.attn, l.o, qd, h, a.proj);
            add_rows(&mut n, &mut cur, a.proj, tokens * h);
            if post_norm {
                norm(&mut n, l.attn_norm, a.x[cur], a.x[1 - cur]);
                cur = 1 - cur;
            }
            let mlp_in = if post_norm {
                a.x[cur]
            } else {
                norm(&mut n, l.mlp_norm, a.x[cur], a.normed);
                a.normed
            };
            let len = tokens * cfg.ffn;
            match (cfg.activation, l.gate) {
                (Activation::SwiGlu, Some(gate)) => {
                    linear(&mut n, mlp_in, gate, h, cfg.ffn, a.gate);
                    linear(&mut n, mlp_in, l.up, h, cfg.ffn, a.up);
                    n.push(Node::SwiGlu { gate: a.gate, up: a.up, len, out: a.act });
                }
                _ => {
                    linear(&mut n, mlp_in, l.up, h, cfg.ffn, a.up);
                    n.push(Node::Gelu { x: a.up, len, erf, out: a.act });
                }
            }
            linear(&mut n, a.act, l.down, cfg.ffn, h, a.proj);
            add_rows(&mut n, &mut cur, a.proj, tokens * h);
            if post_norm {
                norm(&mut n, l.mlp_norm, a.x[cur], a.x[1 - cur]);
                cur = 1 - cur;
            }
        }
        match (w.final_norm, w.lm_head) {
            (Some(fnorm), Some(head)) => {
                norm(&mut n, fnorm, a.x[cur], a.normed);
                n.push(Node::LmHead {
                    x: a.normed,
                    w: head,
                    row: tokens - 1,
                    hidden: h,
                    vocab: cfg.vocab,
                    step,
                    slot: first + tokens,
                    logits: output,
                    ids: match input {
                        Input::Tokens(ids) => ids,
                        Input::Audio(_) => unreachable!("only decoders have an LM head"),
                    },
                });
            }
            (Some(fnorm), None) => norm(&mut n, fnorm, a.x[cur], output),
            // A post-norm encoder's last node is its last norm: it writes the output.
            (None, _) => {
                if let Some(Node::Norm { out, .. }) = n.last_mut() {
                    *out = output;
                }
            }
        }
        n
    }
}
