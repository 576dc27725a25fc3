//! The kernel catalogue: one ordered table, the single source of what accelbench runs. Each
//! entry names its shader and entry points, its parameter sets (`quick` for tests, `full` for
//! real GPUs), its requirements, its tolerance, and the implementation that generates inputs,
//! computes the CPU reference, counts work and builds the GPU plan. Table order is report order.

use std::collections::BTreeMap;

use crate::check::Tolerance;
use crate::kernels::{self, KernelImpl};
use crate::plan::RowLayout;
use crate::quant::QuantFormat;
use crate::schema::{AdapterReport, Provenance, Record, SCHEMA_VERSION, ShaderRef, Status};
use crate::shaders::{self, Shader};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// The practical peaks (bandwidth, FMA per dtype) that records are a fraction of.
    Peak,
    Matmul,
    Softmax,
    Gelu,
    Silu,
    Swiglu,
    Layernorm,
    Rmsnorm,
    Attention,
    Logmel,
    Conv1d,
    Kvcache,
    Rope,
    Embedding,
    Add,
    LmHead,
    CrossEntropy,
    Adamw,
}

impl Family {
    pub const ALL: [Family; 18] = [
        Family::Peak,
        Family::Matmul,
        Family::Softmax,
        Family::Gelu,
        Family::Silu,
        Family::Swiglu,
        Family::Layernorm,
        Family::Rmsnorm,
        Family::Attention,
        Family::Logmel,
        Family::Conv1d,
        Family::Kvcache,
        Family::Rope,
        Family::Embedding,
        Family::Add,
        Family::LmHead,
        Family::CrossEntropy,
        Family::Adamw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Family::Peak => "peak",
            Family::Matmul => "matmul",
            Family::Softmax => "softmax",
            Family::Gelu => "gelu",
            Family::Silu => "silu",
            Family::Swiglu => "swiglu",
            Family::Layernorm => "layernorm",
            Family::Rmsnorm => "rmsnorm",
            Family::Attention => "attention",
            Family::Logmel => "logmel",
            Family::Conv1d => "conv1d",
            Family::Kvcache => "kvcache",
            Family::Rope => "rope",
            Family::Embedding => "embedding",
            Family::Add => "add",
            Family::LmHead => "lm-head",
            Family::CrossEntropy => "cross-entropy",
            Family::Adamw => "adamw",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
    /// 8-bit block-quantised weights (q8_0's blocks of 32 with an f16 scale), f32 activations.
    Q8,
    /// 4-bit block-quantised weights (q4_0's blocks), f32 activations.
    Q4,
}

impl DType {
    pub const ALL: [DType; 4] = [DType::F32, DType::F16, DType::Q8, DType::Q4];

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::Q8 => "q8",
            DType::Q4 => "q4",
        }
    }
}

pub use crate::schema::Size;

/// One named parameter set as written in the catalogue.
#[derive(Debug)]
pub struct ParamSet {
    pub case: &'static str,
    pub values: &'static [(&'static str, u32)],
}

/// The parameters of one case to run: a catalogue set, or a user's `--case` / `--sweep` point
/// (see [`crate::cases`]). Keys are the kernel's own (`KernelImpl::spec`), in spec order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub case: String,
    pub values: Vec<(&'static str, u32)>,
}

impl Params {
    /// # Panics
    /// If the parameters lack `key`; every `Params` is built from a catalogue set (checked by
    /// `tests/cpu`) or by [`crate::cases`], which fills every key of the kernel's spec.
    pub fn get(&self, key: &str) -> u32 {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("parameter set {} has no `{key}`", self.case))
    }

    pub fn usize(&self, key: &str) -> usize {
        self.get(key) as usize
    }

    pub fn to_map(&self) -> BTreeMap<String, u64> {
        self.values.iter().map(|(k, v)| ((*k).to_owned(), u64::from(*v))).collect()
    }
}

impl From<&ParamSet> for Params {
    fn from(s: &ParamSet) -> Params {
        Params { case: s.case.to_owned(), values: s.values.to_vec() }
    }
}

/// Another implementation of a kernel's operation: its own shader (with the same bindings and
/// entry points) and requirements, the same inputs, reference and tolerance. The kernel's own
/// shader is the variant named [`DEFAULT_VARIANT`]; which one runs is the autotuner's choice
/// ([`crate::autotune`]), and every GPU record names it.
#[derive(Debug)]
pub struct Variant {
    pub name: &'static str,
    pub summary: &'static str,
    pub shader: &'static str,
    /// WebGPU features beyond the core; must include the shader's `// requires:`.
    pub requires: &'static [&'static str],
    pub imp: &'static dyn KernelImpl,
}

/// One implementation a GPU backend may run for a kernel: its own or one of its variants.
#[derive(Debug, Clone, Copy)]
pub struct Implementation {
    pub variant: &'static str,
    pub shader: &'static Shader,
    pub requires: &'static [&'static str],
    pub imp: &'static dyn KernelImpl,
}

/// The name of a kernel's own implementation among its variants.
pub const DEFAULT_VARIANT: &str = "default";

#[derive(Debug)]
pub struct Kernel {
    pub id: &'static str,
    pub family: Family,
    pub dtype: DType,
    pub summary: &'static str,
    pub shader: &'static str,
    pub entry_points: &'static [&'static str],
    /// WebGPU features the kernel needs beyond the core; must include the shader's `// requires:`.
    pub requires: &'static [&'static str],
    pub tolerance: Tolerance,
    pub quick: &'static [ParamSet],
    pub full: &'static [ParamSet],
    /// Other implementations of the same operation, tried by the autotuner where the adapter
    /// meets their requirements.
    pub variants: &'static [Variant],
    pub imp: &'static dyn KernelImpl,
}

impl Kernel {
    /// Why timing the reference says nothing about this kernel, if it does not: a peak's
    /// reference is a closed form, not the loop it times. The native reference and the page's
    /// WASM path record `skipped` with this reason.
    pub fn reference_unmeasurable(&self) -> Option<&'static str> {
        (self.family == Family::Peak).then_some(
            "the reference computes a peak's closed form, which is no measure of this backend's peak \
             (native-cpu measures the CPU's)",
        )
    }

    pub fn shader(&self) -> &'static Shader {
        shaders::by_file(self.shader)
    }

    /// Every implementation of this kernel's operation, its own ([`DEFAULT_VARIANT`]) first.
    pub fn implementations(&self) -> Vec<Implementation> {
        let own =
            Implementation { variant: DEFAULT_VARIANT, shader: self.shader(), requires: self.requires, imp: self.imp };
        let others = self.variants.iter().map(|v| Implementation {
            variant: v.name,
            shader: shaders::by_file(v.shader),
            requires: v.requires,
            imp: v.imp,
        });
        std::iter::once(own).chain(others).collect()
    }

    /// The record every backend starts from: identity, parameters, work and provenance,
    /// status `measured` until the run says otherwise, no shader (GPU runs fill it in).
    pub fn base_record(
        &self,
        p: &Params,
        size: Size,
        backend: &str,
        adapter: Option<AdapterReport>,
        provenance: Provenance,
    ) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            kernel: self.id.to_owned(),
            family: self.family.name().to_owned(),
            case: p.case.clone(),
            params: p.to_map(),
            size: size.name().to_owned(),
            dtype: self.dtype.name().to_owned(),
            mode: self.imp.mode(),
            backend: backend.to_owned(),
            status: Status::Measured,
            work: self.imp.work(p),
            timing: None,
            throughput: None,
            check: None,
            adapter,
            shader: ShaderRef { file: String::new(), hash: String::new(), entry_points: vec![] },
            provenance,
            model: None,
            training: None,
            peak: None,
            variant: None,
            autotune: None,
        }
    }

    /// The catalogue's parameter sets of `size`.
    pub fn sets(&self, size: Size) -> &'static [ParamSet] {
        match size {
            Size::Quick => self.quick,
            Size::Full => self.full,
        }
    }

    /// The catalogue's cases of `size`, ready to run.
    pub fn params(&self, size: Size) -> Vec<Params> {
        self.sets(size).iter().map(Params::from).collect()
    }
}

macro_rules! params {
    ($($case:literal: { $($k:ident = $v:expr),* $(,)? }),* $(,)?) => {
        &[$(ParamSet { case: $case, values: &[$((stringify!($k), $v)),*] }),*]
    };
}

/// Parameter sets an f32 kernel and its fp16 variant share.
const MATMUL_QUICK: &[ParamSet] = params! {
    "128": { m = 128, n = 128, k = 128, batch = 1 },
    "odd-b2": { m = 97, n = 83, k = 71, batch = 2 },
};
const SOFTMAX_QUICK: &[ParamSet] = params! {
    "64x1000": { rows = 64, cols = 1000 },
    "3x4099": { rows = 3, cols = 4099 },
};
const SOFTMAX_FULL: &[ParamSet] = params! {
    "attn-8x512x512": { rows = 4096, cols = 512 },
    "attn-16x2048x2048": { rows = 32768, cols = 2048 },
    "vocab-32x32000": { rows = 32, cols = 32000 },
};
const GELU_TANH_QUICK: &[ParamSet] = params! { "65537": { len = 65537 } };
const GELU_TANH_FULL: &[ParamSet] = params! {
    "1M": { len = 1 << 20 },
    "8x512x4096": { len = 8 * 512 * 4096 },
};
const GELU_ERF_QUICK: &[ParamSet] = params! { "65537": { len = 65537 } };
const GELU_ERF_FULL: &[ParamSet] = params! {
    "1M": { len = 1 << 20 },
    "8x512x4096": { len = 8 * 512 * 4096 },
};
const SILU_QUICK: &[ParamSet] = params! { "65537": { len = 65537 } };
const SILU_FULL: &[ParamSet] = params! {
    "1M": { len = 1 << 20 },
    "4x512x11008": { len = 4 * 512 * 11008 },
};
const SWIGLU_QUICK: &[ParamSet] = params! { "65537": { len = 65537 } };
const SWIGLU_FULL: &[ParamSet] = params! {
    "1M": { len = 1 << 20 },
    "4x512x11008": { len = 4 * 512 * 11008 },
};
const LAYERNORM_QUICK: &[ParamSet] = params! {
    "64x768": { rows = 64, cols = 768 },
    "5x1001": { rows = 5, cols = 1001 },
};
const LAYERNORM_FULL: &[ParamSet] = params! {
    "bert-512x768": { rows = 512, cols = 768 },
    "8x1024x4096": { rows = 8192, cols = 4096 },
};
const RMSNORM_QUICK: &[ParamSet] = params! {
    "64x768": { rows = 64, cols = 768 },
    "5x1001": { rows = 5, cols = 1001 },
};
const RMSNORM_FULL: &[ParamSet] = params! {
    "bert-512x768": { rows = 512, cols = 768 },
    "8x1024x4096": { rows = 8192, cols = 4096 },
};
const ROPE_QUICK: &[ParamSet] = params! {
    "t64h8d64": { tokens = 64, heads = 8, head_dim = 64, theta = 10000, offset = 0 },
    "t7h3d34-at1000": { tokens = 7, heads = 3, head_dim = 34, theta = 500000, offset = 1000 },
};
const ROPE_FULL: &[ParamSet] = params! {
    "prefill-t2048h32d64": { tokens = 2048, heads = 32, head_dim = 64, theta = 500000, offset = 0 },
    "decode-h32d128-at8191": { tokens = 1, heads = 32, head_dim = 128, theta = 1000000, offset = 8191 },
};
const EMBEDDING_QUICK: &[ParamSet] = params! {
    "t64v2048h128": { tokens = 64, vocab = 2048, hidden = 128 },
    "t5v1000h77": { tokens = 5, vocab = 1000, hidden = 77 },
};
const EMBEDDING_FULL: &[ParamSet] = params! {
    "gpt2-t1024": { tokens = 1024, vocab = 50257, hidden = 768 },
    "bert-t512": { tokens = 512, vocab = 30522, hidden = 768 },
};
const CROSS_ENTROPY_QUICK: &[ParamSet] = params! {
    "t64v2048": { rows = 64, vocab = 2048 },
    "t5v1001": { rows = 5, vocab = 1001 },
};
const CROSS_ENTROPY_FULL: &[ParamSet] = params! {
    "gpt2-t512": { rows = 512, vocab = 50257 },
    "llama3-t256": { rows = 256, vocab = 128256 },
};
const ADAMW_QUICK: &[ParamSet] = params! { "65537-t3": { len = 65537, step = 3 } };
const ADAMW_FULL: &[ParamSet] = params! {
    "16M-t10": { len = 1 << 24, step = 10 },
    "gpt2-124M-t1000": { len = 124_439_808, step = 1000 },
};
// Quick: 32 MiB each way, past the last-level cache of the CPUs this runs on, within
// lavapipe's 128 MiB binding limit. Full: 128 MiB each way, the default binding limit.
const PEAK_COPY_QUICK: &[ParamSet] = params! { "32MiB": { len = 1 << 23 } };
const PEAK_COPY_FULL: &[ParamSet] = params! { "128MiB": { len = 1 << 25 } };
// Quick: 134 MFLOP, milliseconds on a CPU adapter. Full: 34 GFLOP, enough to fill a big GPU.
const PEAK_FMA_QUICK: &[ParamSet] = params! { "t16k-i256": { threads = 16384, iters = 256 } };
const PEAK_FMA_FULL: &[ParamSet] = params! { "t1M-i1024": { threads = 1 << 20, iters = 1024 } };
const ADD_QUICK: &[ParamSet] = params! {
    "residual-t64h128": { len = 8192, b_len = 8192 },
    "bias-t64h384": { len = 24576, b_len = 384 },
};
const ADD_FULL: &[ParamSet] = params! {
    "residual-t512h2048": { len = 1048576, b_len = 1048576 },
    "bias-t512h3072": { len = 1572864, b_len = 3072 },
};
const LM_HEAD_QUICK: &[ParamSet] = params! {
    "h128v2048": { hidden = 128, vocab = 2048 },
    "h77v1000": { hidden = 77, vocab = 1000 },
};
const LM_HEAD_FULL: &[ParamSet] = params! {
    "gpt2": { hidden = 768, vocab = 50257 },
    "qwen2.5-0.5b": { hidden = 896, vocab = 151936 },
};
const ATTENTION_FLASH_QUICK: &[ParamSet] = params! {
    "b1h2s128d64": { batch = 1, heads = 2, seq_len = 128, head_dim = 64 },
    "b2h3s67d32": { batch = 2, heads = 3, seq_len = 67, head_dim = 32 },
};
const ATTENTION_FLASH_FULL: &[ParamSet] = params! {
    "h8s1024d64": { batch = 1, heads = 8, seq_len = 1024, head_dim = 64 },
    "h16s2048d64": { batch = 1, heads = 16, seq_len = 2048, head_dim = 64 },
    "h8s1024d128": { batch = 1, heads = 8, seq_len = 1024, head_dim = 128 },
};
const CONV1D_QUICK: &[ParamSet] = params! {
    "mel80-c128-t64": { c_in = 80, c_out = 128, length = 64, kernel = 3, stride = 1, time_major = 0 },
    "c128-t64-s2": { c_in = 128, c_out = 128, length = 64, kernel = 3, stride = 2, time_major = 1 },
};
const CONV1D_FULL: &[ParamSet] = params! {
    "whisper-tiny-conv1": { c_in = 80, c_out = 384, length = 3000, kernel = 3, stride = 1, time_major = 0 },
    "whisper-base-conv2": { c_in = 512, c_out = 512, length = 3000, kernel = 3, stride = 2, time_major = 1 },
};
const KVCACHE_DECODE_QUICK: &[ParamSet] = params! {
    "l2h4d64c300": { layers = 2, heads = 4, head_dim = 64, page_size = 16, context = 300, steps = 1 },
};
const ATTENTION_CACHE_QUICK: &[ParamSet] = params! {
    "gqa-decode-c100": { tokens = 1, first = 100, heads = 8, kv_heads = 2, head_dim = 32, page_size = 16, causal = 1 },
    "gqa-prefill-t48": { tokens = 48, first = 0, heads = 4, kv_heads = 1, head_dim = 32, page_size = 16, causal = 1 },
    "bidir-t40": { tokens = 40, first = 0, heads = 4, kv_heads = 4, head_dim = 24, page_size = 8, causal = 0 },
    "chunk-t7c21": { tokens = 7, first = 21, heads = 6, kv_heads = 3, head_dim = 16, page_size = 5, causal = 1 },
};
const ATTENTION_CACHE_FULL: &[ParamSet] = params! {
    "llama-decode-c1024": { tokens = 1, first = 1024, heads = 32, kv_heads = 8, head_dim = 64, page_size = 16, causal = 1 },
    "llama-prefill-t512": { tokens = 512, first = 0, heads = 32, kv_heads = 8, head_dim = 64, page_size = 16, causal = 1 },
    "bert-t512": { tokens = 512, first = 0, heads = 12, kv_heads = 12, head_dim = 64, page_size = 16, causal = 0 },
};

const KVCACHE_DECODE_FULL: &[ParamSet] = params! {
    "l4h8d128c4096": { layers = 4, heads = 8, head_dim = 128, page_size = 16, context = 4095, steps = 1 },
    "l4h8d128c1024": { layers = 4, heads = 8, head_dim = 128, page_size = 16, context = 1023, steps = 1 },
};

// One invocation per row: no barriers, which CPU adapters (SwiftShader above all) run far faster
// than the default's workgroup reductions, and GPUs far slower.
const SOFTMAX_VARIANTS: &[Variant] = &[Variant {
    name: "row-per-invocation",
    summary: "one invocation per row, 64 rows a workgroup, online max and sum: no barriers",
    shader: "softmax_row.wgsl",
    requires: &[],
    imp: &kernels::Softmax { layout: RowLayout::Invocation },
}];
const LAYERNORM_VARIANTS: &[Variant] = &[Variant {
    name: "row-per-invocation",
    summary: "one invocation per row, 64 rows a workgroup: no barriers",
    shader: "norm_row.wgsl",
    requires: &[],
    imp: &kernels::Norm { rms: false, layout: RowLayout::Invocation },
}];
const RMSNORM_VARIANTS: &[Variant] = &[Variant {
    name: "row-per-invocation",
    summary: "one invocation per row, 64 rows a workgroup: no barriers",
    shader: "norm_row.wgsl",
    requires: &[],
    imp: &kernels::Norm { rms: true, layout: RowLayout::Invocation },
}];

const SOFTMAX_F16_VARIANTS: &[Variant] = &[Variant {
    name: "row-per-invocation",
    summary: "one invocation per row, 64 rows a workgroup, online max and sum; fp16 storage",
    shader: "softmax_row_f16.wgsl",
    requires: &["shader-f16"],
    imp: &kernels::Half { kernel: kernels::Softmax { layout: RowLayout::Invocation }, output_f16: true },
}];
const LAYERNORM_F16_VARIANTS: &[Variant] = &[Variant {
    name: "row-per-invocation",
    summary: "one invocation per row, 64 rows a workgroup; fp16 storage",
    shader: "norm_row_f16.wgsl",
    requires: &["shader-f16"],
    imp: &kernels::Half { kernel: kernels::Norm { rms: false, layout: RowLayout::Invocation }, output_f16: true },
}];
const RMSNORM_F16_VARIANTS: &[Variant] = &[Variant {
    name: "row-per-invocation",
    summary: "one invocation per row, 64 rows a workgroup; fp16 storage",
    shader: "norm_row_f16.wgsl",
    requires: &["shader-f16"],
    imp: &kernels::Half { kernel: kernels::Norm { rms: true, layout: RowLayout::Invocation }, output_f16: true },
}];

const MATMUL_VARIANTS: &[Variant] = &[Variant {
    name: "direct",
    summary: "the same 64x64 tiles and 4x4 register blocks, read straight from storage: no workgroup memory, no barriers",
    shader: "matmul_direct.wgsl",
    requires: &[],
    imp: &kernels::Matmul,
}];
const MATMUL_F16_VARIANTS: &[Variant] = &[Variant {
    name: "direct",
    summary: "4x4 register blocks read straight from storage, fp16 storage: no workgroup memory, no barriers",
    shader: "matmul_direct_f16.wgsl",
    requires: &["shader-f16"],
    imp: &kernels::Half { kernel: kernels::Matmul, output_f16: true },
}];

// What an autograd framework's attention backward does: P and dS kept in memory (O(seq_len^2)
// per head) and read back, against the default's recomputation from log-sum-exps.
const ATTENTION_BACKWARD_VARIANTS: &[Variant] = &[Variant {
    name: "unfused",
    summary: "probabilities and score gradients materialised (heads x seq_len x seq_len each) and read back by the gradient passes",
    shader: "attention_grad_unfused.wgsl",
    requires: &[],
    imp: &kernels::Backward::Attention { unfused: true },
}];

const MATMUL_Q8_I8_VARIANTS: &[Variant] = &[Variant {
    name: "dot4i8packed",
    summary: "each word's four byte products with WGSL's dot4I8Packed (one integer dot-product instruction where the driver has one)",
    shader: "matmul_q8_i8_dot4.wgsl",
    requires: &["packed_4x8_integer_dot_product"],
    imp: &kernels::Int8Matmul { gemv: false },
}];
const GEMV_Q8_I8_VARIANTS: &[Variant] = &[Variant {
    name: "dot4i8packed",
    summary: "each word's four byte products with WGSL's dot4I8Packed (one integer dot-product instruction where the driver has one)",
    shader: "matmul_q8_i8_dot4.wgsl",
    requires: &["packed_4x8_integer_dot_product"],
    imp: &kernels::Int8Matmul { gemv: true },
}];

const GELU_TANH_VARIANTS: &[Variant] = &[Variant {
    name: "sigmoid-form",
    summary: "the same function as x / (1 + exp(-2u)): one exp and a division instead of tanh",
    shader: "gelu_sigmoid.wgsl",
    requires: &[],
    imp: &kernels::Gelu { erf: false },
}];
const GELU_TANH_F16_VARIANTS: &[Variant] = &[Variant {
    name: "sigmoid-form",
    summary: "x / (1 + exp(-2u)) instead of tanh; fp16 storage",
    shader: "gelu_sigmoid_f16.wgsl",
    requires: &["shader-f16"],
    imp: &kernels::Half { kernel: kernels::Gelu { erf: false }, output_f16: true },
}];

pub static KERNELS: &[Kernel] = &[
    // The peaks first: every later record of a backend is a fraction of them, and a streamed
    // run knows them before the first such record.
    Kernel {
        id: "peak-bandwidth",
        family: Family::Peak,
        dtype: DType::F32,
        summary: "practical memory bandwidth: y = x in vec4s, each byte read once and written once",
        shader: "peak_copy.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::STRICT,
        quick: PEAK_COPY_QUICK,
        full: PEAK_COPY_FULL,
        variants: &[],
        imp: &kernels::PeakCopy,
    },
    Kernel {
        id: "peak-fma-f32",
        family: Family::Peak,
        dtype: DType::F32,
        summary: "practical fp32 arithmetic peak: 16 independent FMA chains per invocation",
        shader: "peak_fma.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: PEAK_FMA_QUICK,
        full: PEAK_FMA_FULL,
        variants: &[],
        imp: &kernels::PeakFma { dtype: DType::F32 },
    },
    Kernel {
        id: "peak-fma-f16",
        family: Family::Peak,
        dtype: DType::F16,
        summary: "practical fp16 arithmetic peak: 16 independent f16 FMA chains per invocation",
        shader: "peak_fma_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: PEAK_FMA_QUICK,
        full: PEAK_FMA_FULL,
        variants: &[],
        imp: &kernels::PeakFma { dtype: DType::F16 },
    },
    Kernel {
        id: "matmul-f32",
        family: Family::Matmul,
        dtype: DType::F32,
        summary: "C = A B, fp32, 64x64 workgroup tiles with 4x4 register blocks",
        shader: "matmul_f32.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: MATMUL_QUICK,
        full: params! {
            "1024": { m = 1024, n = 1024, k = 1024, batch = 1 },
            "2048": { m = 2048, n = 2048, k = 2048, batch = 1 },
            "512-b1": { m = 512, n = 512, k = 512, batch = 1 },
            "512-b4": { m = 512, n = 512, k = 512, batch = 4 },
            "512-b16": { m = 512, n = 512, k = 512, batch = 16 },
        },
        variants: MATMUL_VARIANTS,
        imp: &kernels::Matmul,
    },
    Kernel {
        id: "matmul-f16",
        family: Family::Matmul,
        dtype: DType::F16,
        summary: "C = A B, fp16 storage with f32 accumulation, same tiling as matmul-f32",
        shader: "matmul_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: MATMUL_QUICK,
        full: params! {
            "1024": { m = 1024, n = 1024, k = 1024, batch = 1 },
            "2048": { m = 2048, n = 2048, k = 2048, batch = 1 },
        },
        variants: MATMUL_F16_VARIANTS,
        imp: &kernels::Half { kernel: kernels::Matmul, output_f16: true },
    },
    Kernel {
        id: "matmul-q8",
        family: Family::Matmul,
        dtype: DType::Q8,
        summary: "y = x W^T, W 8-bit block-quantised (32 per f16 scale), dequantised in the kernel; prefill-shaped",
        shader: "matmul_q8.wgsl",
        entry_points: &["gemm"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: params! {
            "m64n256k256": { m = 64, n = 256, k = 256 },
            "m7n96k160": { m = 7, n = 96, k = 160 },
        },
        full: params! {
            "llama-qkv-t512": { m = 512, n = 2048, k = 2048 },
            "llama-up-t128": { m = 128, n = 8192, k = 2048 },
        },
        variants: &[],
        imp: &kernels::QuantMatmul { format: QuantFormat::Q8, gemv: false },
    },
    Kernel {
        id: "gemv-q8",
        family: Family::Matmul,
        dtype: DType::Q8,
        summary: "decode-step y = x W^T (one token), W 8-bit block-quantised, one workgroup per output",
        shader: "matmul_q8.wgsl",
        entry_points: &["gemv"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: params! {
            "n2048k512": { n = 2048, k = 512 },
            "n77k96": { n = 77, k = 96 },
        },
        full: params! {
            "llama-up": { n = 8192, k = 2048 },
            "llama-down": { n = 2048, k = 8192 },
        },
        variants: &[],
        imp: &kernels::QuantMatmul { format: QuantFormat::Q8, gemv: true },
    },
    Kernel {
        id: "matmul-q8-i8",
        family: Family::Matmul,
        dtype: DType::Q8,
        summary: "y = x W^T as int8 x int8: W q8, x quantised per block of 32 on the device, i32 block dots; prefill-shaped",
        shader: "matmul_q8_i8.wgsl",
        entry_points: &["quantize_x", "gemm"],
        requires: &[],
        // A level of x may land across a half step where the device's f32 division rounds
        // differently from the host's: one level moves an output by ~|w| / 127.
        tolerance: Tolerance::PERMISSIVE,
        quick: params! {
            "m64n256k256": { m = 64, n = 256, k = 256 },
            "m7n96k160": { m = 7, n = 96, k = 160 },
        },
        full: params! {
            "llama-qkv-t512": { m = 512, n = 2048, k = 2048 },
            "llama-up-t128": { m = 128, n = 8192, k = 2048 },
        },
        variants: MATMUL_Q8_I8_VARIANTS,
        imp: &kernels::Int8Matmul { gemv: false },
    },
    Kernel {
        id: "gemv-q8-i8",
        family: Family::Matmul,
        dtype: DType::Q8,
        summary: "decode-step y = x W^T as int8 x int8: W q8, x quantised per block of 32 on the device, one workgroup per output",
        shader: "matmul_q8_i8.wgsl",
        entry_points: &["quantize_x", "gemv"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: params! {
            "n2048k512": { n = 2048, k = 512 },
            "n77k96": { n = 77, k = 96 },
        },
        full: params! {
            "llama-up": { n = 8192, k = 2048 },
            "llama-down": { n = 2048, k = 8192 },
        },
        variants: GEMV_Q8_I8_VARIANTS,
        imp: &kernels::Int8Matmul { gemv: true },
    },
    Kernel {
        id: "matmul-q4",
        family: Family::Matmul,
        dtype: DType::Q4,
        summary: "y = x W^T, W 4-bit block-quantised (32 per f16 scale), dequantised in the kernel; prefill-shaped",
        shader: "matmul_q4.wgsl",
        entry_points: &["gemm"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: params! {
            "m64n256k256": { m = 64, n = 256, k = 256 },
            "m7n96k160": { m = 7, n = 96, k = 160 },
        },
        full: params! {
            "llama-qkv-t512": { m = 512, n = 2048, k = 2048 },
            "llama-up-t128": { m = 128, n = 8192, k = 2048 },
        },
        variants: &[],
        imp: &kernels::QuantMatmul { format: QuantFormat::Q4, gemv: false },
    },
    Kernel {
        id: "gemv-q4",
        family: Family::Matmul,
        dtype: DType::Q4,
        summary: "decode-step y = x W^T (one token), W 4-bit block-quantised, one workgroup per output",
        shader: "matmul_q4.wgsl",
        entry_points: &["gemv"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: params! {
            "n2048k512": { n = 2048, k = 512 },
            "n77k96": { n = 77, k = 96 },
        },
        full: params! {
            "llama-up": { n = 8192, k = 2048 },
            "llama-down": { n = 2048, k = 8192 },
        },
        variants: &[],
        imp: &kernels::QuantMatmul { format: QuantFormat::Q4, gemv: true },
    },
    Kernel {
        id: "softmax",
        family: Family::Softmax,
        dtype: DType::F32,
        summary: "numerically stable row softmax, one workgroup per row",
        shader: "softmax.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: SOFTMAX_QUICK,
        full: SOFTMAX_FULL,
        variants: SOFTMAX_VARIANTS,
        imp: &kernels::Softmax { layout: RowLayout::Workgroup },
    },
    Kernel {
        id: "softmax-f16",
        family: Family::Softmax,
        dtype: DType::F16,
        summary: "row softmax, fp16 storage and f32 arithmetic, one workgroup per row",
        shader: "softmax_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: SOFTMAX_QUICK,
        full: SOFTMAX_FULL,
        variants: SOFTMAX_F16_VARIANTS,
        imp: &kernels::Half { kernel: kernels::Softmax { layout: RowLayout::Workgroup }, output_f16: true },
    },
    Kernel {
        id: "gelu-tanh",
        family: Family::Gelu,
        dtype: DType::F32,
        summary: "GELU, tanh approximation (GPT-2/BERT), elementwise vec4",
        shader: "gelu.wgsl",
        entry_points: &["gelu_tanh"],
        requires: &[],
        tolerance: Tolerance::STRICT,
        quick: GELU_TANH_QUICK,
        full: GELU_TANH_FULL,
        variants: GELU_TANH_VARIANTS,
        imp: &kernels::Gelu { erf: false },
    },
    Kernel {
        id: "gelu-tanh-f16",
        family: Family::Gelu,
        dtype: DType::F16,
        summary: "GELU, tanh approximation, fp16 storage and f32 arithmetic, elementwise vec4",
        shader: "gelu_f16.wgsl",
        entry_points: &["gelu_tanh"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: GELU_TANH_QUICK,
        full: GELU_TANH_FULL,
        variants: GELU_TANH_F16_VARIANTS,
        imp: &kernels::Half { kernel: kernels::Gelu { erf: false }, output_f16: true },
    },
    Kernel {
        id: "gelu-erf",
        family: Family::Gelu,
        dtype: DType::F32,
        summary: "GELU, exact erf form (PyTorch default), elementwise vec4",
        shader: "gelu.wgsl",
        entry_points: &["gelu_erf"],
        requires: &[],
        tolerance: Tolerance::STRICT,
        quick: GELU_ERF_QUICK,
        full: GELU_ERF_FULL,
        variants: &[],
        imp: &kernels::Gelu { erf: true },
    },
    Kernel {
        id: "gelu-erf-f16",
        family: Family::Gelu,
        dtype: DType::F16,
        summary: "GELU, exact erf form, fp16 storage and f32 arithmetic, elementwise vec4",
        shader: "gelu_f16.wgsl",
        entry_points: &["gelu_erf"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: GELU_ERF_QUICK,
        full: GELU_ERF_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Gelu { erf: true }, output_f16: true },
    },
    Kernel {
        id: "silu",
        family: Family::Silu,
        dtype: DType::F32,
        summary: "SiLU (swish), x * sigmoid(x), elementwise vec4 (LLaMA-family MLP activation)",
        shader: "silu.wgsl",
        entry_points: &["silu"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: SILU_QUICK,
        full: SILU_FULL,
        variants: &[],
        imp: &kernels::Glu { gated: false },
    },
    Kernel {
        id: "silu-f16",
        family: Family::Silu,
        dtype: DType::F16,
        summary: "SiLU (swish), x * sigmoid(x), elementwise vec4 (LLaMA-family MLP activation); fp16 storage, f32 arithmetic",
        shader: "silu_f16.wgsl",
        entry_points: &["silu"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: SILU_QUICK,
        full: SILU_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Glu { gated: false }, output_f16: true },
    },
    Kernel {
        id: "swiglu",
        family: Family::Swiglu,
        dtype: DType::F32,
        summary: "SwiGLU, silu(gate) * up, elementwise vec4 (the LLaMA MLP's gate)",
        shader: "silu.wgsl",
        entry_points: &["swiglu"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: SWIGLU_QUICK,
        full: SWIGLU_FULL,
        variants: &[],
        imp: &kernels::Glu { gated: true },
    },
    Kernel {
        id: "swiglu-f16",
        family: Family::Swiglu,
        dtype: DType::F16,
        summary: "SwiGLU, silu(gate) * up, elementwise vec4 (the LLaMA MLP's gate); fp16 storage, f32 arithmetic",
        shader: "silu_f16.wgsl",
        entry_points: &["swiglu"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: SWIGLU_QUICK,
        full: SWIGLU_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Glu { gated: true }, output_f16: true },
    },
    Kernel {
        id: "layernorm",
        family: Family::Layernorm,
        dtype: DType::F32,
        summary: "LayerNorm over the last dimension, two-pass mean/variance, with gamma and beta",
        shader: "norm.wgsl",
        entry_points: &["layernorm"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: LAYERNORM_QUICK,
        full: LAYERNORM_FULL,
        variants: LAYERNORM_VARIANTS,
        imp: &kernels::Norm { rms: false, layout: RowLayout::Workgroup },
    },
    Kernel {
        id: "layernorm-f16",
        family: Family::Layernorm,
        dtype: DType::F16,
        summary: "LayerNorm, fp16 storage of x, gamma, beta and y, f32 statistics",
        shader: "norm_f16.wgsl",
        entry_points: &["layernorm"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: LAYERNORM_QUICK,
        full: LAYERNORM_FULL,
        variants: LAYERNORM_F16_VARIANTS,
        imp: &kernels::Half { kernel: kernels::Norm { rms: false, layout: RowLayout::Workgroup }, output_f16: true },
    },
    Kernel {
        id: "rmsnorm",
        family: Family::Rmsnorm,
        dtype: DType::F32,
        summary: "RMSNorm over the last dimension (LLaMA-style), with gamma",
        shader: "norm.wgsl",
        entry_points: &["rmsnorm"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: RMSNORM_QUICK,
        full: RMSNORM_FULL,
        variants: RMSNORM_VARIANTS,
        imp: &kernels::Norm { rms: true, layout: RowLayout::Workgroup },
    },
    Kernel {
        id: "rmsnorm-f16",
        family: Family::Rmsnorm,
        dtype: DType::F16,
        summary: "RMSNorm, fp16 storage of x, gamma and y, f32 statistics",
        shader: "norm_f16.wgsl",
        entry_points: &["rmsnorm"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: RMSNORM_QUICK,
        full: RMSNORM_FULL,
        variants: RMSNORM_F16_VARIANTS,
        imp: &kernels::Half { kernel: kernels::Norm { rms: true, layout: RowLayout::Workgroup }, output_f16: true },
    },
    Kernel {
        id: "rope",
        family: Family::Rope,
        dtype: DType::F32,
        summary: "rotary position embedding (rotate-half, LLaMA/Qwen), cos/sin cache from the host",
        shader: "rope.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: ROPE_QUICK,
        full: ROPE_FULL,
        variants: &[],
        imp: &kernels::Rope,
    },
    Kernel {
        id: "rope-f16",
        family: Family::Rope,
        dtype: DType::F16,
        summary: "rotary position embedding (rotate-half, LLaMA/Qwen), cos/sin cache from the host; fp16 storage, f32 arithmetic",
        shader: "rope_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: ROPE_QUICK,
        full: ROPE_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Rope, output_f16: true },
    },
    Kernel {
        id: "embedding",
        family: Family::Embedding,
        dtype: DType::F32,
        summary: "token embedding lookup: rows of a (vocab, hidden) table by id, pure data movement",
        shader: "embedding.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::STRICT,
        quick: EMBEDDING_QUICK,
        full: EMBEDDING_FULL,
        variants: &[],
        imp: &kernels::Embedding,
    },
    Kernel {
        id: "embedding-f16",
        family: Family::Embedding,
        dtype: DType::F16,
        summary: "token embedding lookup: rows of a (vocab, hidden) table by id, pure data movement; fp16 storage, f32 arithmetic",
        shader: "embedding_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: EMBEDDING_QUICK,
        full: EMBEDDING_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Embedding, output_f16: true },
    },
    Kernel {
        id: "add",
        family: Family::Add,
        dtype: DType::F32,
        summary: "y = a + b with b repeated along a: residual connections and linear-layer biases",
        shader: "add.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::STRICT,
        quick: ADD_QUICK,
        full: ADD_FULL,
        variants: &[],
        imp: &kernels::Add,
    },
    Kernel {
        id: "add-f16",
        family: Family::Add,
        dtype: DType::F16,
        summary: "y = a + b with b repeated along a: residual connections and linear-layer biases; fp16 storage, f32 arithmetic",
        shader: "add_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: ADD_QUICK,
        full: ADD_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Add, output_f16: true },
    },
    Kernel {
        id: "lm-head",
        family: Family::LmHead,
        dtype: DType::F32,
        summary: "LM head: logits of one hidden state against the (vocab, hidden) table, argmax on the device",
        shader: "lm_head.wgsl",
        entry_points: &["logits_rows", "argmax"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: LM_HEAD_QUICK,
        full: LM_HEAD_FULL,
        variants: &[],
        imp: &kernels::LmHead,
    },
    Kernel {
        id: "lm-head-f16",
        family: Family::LmHead,
        dtype: DType::F16,
        summary: "LM head: logits of one hidden state against the (vocab, hidden) table, argmax on the device; fp16 weights and input, f32 logits",
        shader: "lm_head_f16.wgsl",
        entry_points: &["logits_rows", "argmax"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: LM_HEAD_QUICK,
        full: LM_HEAD_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::LmHead, output_f16: false },
    },
    Kernel {
        id: "attention-causal",
        family: Family::Attention,
        dtype: DType::F32,
        summary: "causal multi-head SDPA, unfused: scores, softmax, context (materialises S x S)",
        shader: "attention.wgsl",
        entry_points: &["scores", "softmax", "context"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: params! {
            "b1h2s128d64": { batch = 1, heads = 2, seq_len = 128, head_dim = 64 },
            "b2h3s67d32": { batch = 2, heads = 3, seq_len = 67, head_dim = 32 },
        },
        full: params! {
            "h8s1024d64": { batch = 1, heads = 8, seq_len = 1024, head_dim = 64 },
            "h16s2048d64": { batch = 1, heads = 16, seq_len = 2048, head_dim = 64 },
        },
        variants: &[],
        imp: &kernels::Attention { variant: kernels::AttentionVariant::Unfused },
    },
    Kernel {
        id: "attention-sliding",
        family: Family::Attention,
        dtype: DType::F32,
        summary: "sliding-window causal attention, fused per query; cost grows with the window",
        shader: "attention_window.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: params! {
            "b1h2s256d64w64": { batch = 1, heads = 2, seq_len = 256, head_dim = 64, window = 64 },
            "b2h1s70d32w16": { batch = 2, heads = 1, seq_len = 70, head_dim = 32, window = 16 },
        },
        full: params! {
            "h8s2048d64w256": { batch = 1, heads = 8, seq_len = 2048, head_dim = 64, window = 256 },
            "h8s2048d64w1024": { batch = 1, heads = 8, seq_len = 2048, head_dim = 64, window = 1024 },
            "h8s8192d64w256": { batch = 1, heads = 8, seq_len = 8192, head_dim = 64, window = 256 },
        },
        variants: &[],
        imp: &kernels::Attention { variant: kernels::AttentionVariant::Window },
    },
    Kernel {
        id: "attention-flash",
        family: Family::Attention,
        dtype: DType::F32,
        summary: "flash-style causal attention: K/V tiles, online softmax, no S x S matrix",
        shader: "flash_attention.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: ATTENTION_FLASH_QUICK,
        full: ATTENTION_FLASH_FULL,
        variants: &[],
        imp: &kernels::Attention { variant: kernels::AttentionVariant::Flash },
    },
    Kernel {
        id: "attention-flash-f16",
        family: Family::Attention,
        dtype: DType::F16,
        summary: "flash-style causal attention: K/V tiles, online softmax, no S x S matrix; fp16 storage, f32 arithmetic",
        shader: "flash_attention_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: ATTENTION_FLASH_QUICK,
        full: ATTENTION_FLASH_FULL,
        variants: &[],
        imp: &kernels::Half {
            kernel: kernels::Attention { variant: kernels::AttentionVariant::Flash },
            output_f16: true,
        },
    },
    Kernel {
        id: "attention-cache",
        family: Family::Attention,
        dtype: DType::F32,
        summary: "attention over a paged KV cache: append, scores, softmax, context; grouped-query, causal or bidirectional",
        shader: "attention_cache.wgsl",
        entry_points: &["append", "scores", "softmax", "context"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: ATTENTION_CACHE_QUICK,
        full: ATTENTION_CACHE_FULL,
        variants: &[],
        imp: &kernels::CachedAttention,
    },
    Kernel {
        id: "attention-cache-f16",
        family: Family::Attention,
        dtype: DType::F16,
        summary: "attention over a paged KV cache: append, scores, softmax, context; grouped-query, causal or bidirectional; fp16 q, K/V cache and output, f32 scores and arithmetic",
        shader: "attention_cache_f16.wgsl",
        entry_points: &["append", "scores", "softmax", "context"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: ATTENTION_CACHE_QUICK,
        full: ATTENTION_CACHE_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::CachedAttention, output_f16: true },
    },
    Kernel {
        id: "logmel",
        family: Family::Logmel,
        dtype: DType::F32,
        summary: "Whisper-style log-mel: 25 ms Hann, 10 ms hop, 512-point FFT in workgroup memory, 80 mels",
        shader: "logmel.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: params! { "2s": { millis = 2000, n_mels = 80 } },
        full: params! {
            "10s-clip": { millis = 10000, n_mels = 80 },
            "30s": { millis = 30000, n_mels = 80 },
        },
        variants: &[],
        imp: &kernels::LogMel,
    },
    Kernel {
        id: "conv1d",
        family: Family::Conv1d,
        dtype: DType::F32,
        summary: "1-D convolution with bias, zero padding: Whisper's audio front end (k3, stride 1 then 2)",
        shader: "conv1d.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: CONV1D_QUICK,
        full: CONV1D_FULL,
        variants: &[],
        imp: &kernels::Conv1d,
    },
    Kernel {
        id: "conv1d-f16",
        family: Family::Conv1d,
        dtype: DType::F16,
        summary: "1-D convolution with bias, zero padding: Whisper's audio front end (k3, stride 1 then 2); fp16 storage, f32 arithmetic",
        shader: "conv1d_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: CONV1D_QUICK,
        full: CONV1D_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Conv1d, output_f16: true },
    },
    Kernel {
        id: "kvcache-decode",
        family: Family::Kvcache,
        dtype: DType::F32,
        summary: "one paged-KV decode step: append, chunked attention over the cache, combine",
        shader: "kvcache.wgsl",
        entry_points: &["append", "attend", "combine"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: KVCACHE_DECODE_QUICK,
        full: KVCACHE_DECODE_FULL,
        variants: &[],
        imp: &kernels::KvCache { stream: false },
    },
    Kernel {
        id: "kvcache-decode-f16",
        family: Family::Kvcache,
        dtype: DType::F16,
        summary: "one paged-KV decode step: append, chunked attention over the cache, combine; fp16 storage, f32 arithmetic",
        shader: "kvcache_f16.wgsl",
        entry_points: &["append", "attend", "combine"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: KVCACHE_DECODE_QUICK,
        full: KVCACHE_DECODE_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::KvCache { stream: false }, output_f16: true },
    },
    Kernel {
        id: "kvcache-stream",
        family: Family::Kvcache,
        dtype: DType::F32,
        summary: "streaming decode: prefill the paged cache, then decode steps back to back",
        shader: "kvcache.wgsl",
        entry_points: &["prefill", "append", "attend", "combine"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: params! {
            "l2h4d64p200x8": { layers = 2, heads = 4, head_dim = 64, page_size = 16, context = 200, steps = 8 },
        },
        full: params! {
            "l4h8d128p2048x64": { layers = 4, heads = 8, head_dim = 128, page_size = 16, context = 2048, steps = 64 },
        },
        variants: &[],
        imp: &kernels::KvCache { stream: true },
    },
    // Training: each forward family's backward, the loss that starts a backward pass and the
    // optimiser step that ends a training step (records say `mode: training`).
    Kernel {
        id: "matmul-backward",
        family: Family::Matmul,
        dtype: DType::F32,
        summary: "linear layer backward: dx = dy w^T and dw = x^T dy, 16x16 tiles, operands read transposed in place",
        shader: "matmul_grad.wgsl",
        entry_points: &["grad_input", "grad_weight"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: params! {
            "m64k96n80": { m = 64, k = 96, n = 80 },
            "m37k29n53": { m = 37, k = 29, n = 53 },
        },
        full: params! {
            "gpt2-mlp-t512": { m = 512, k = 768, n = 3072 },
            "t2048h4096": { m = 2048, k = 4096, n = 4096 },
        },
        variants: &[],
        imp: &kernels::Backward::Matmul,
    },
    Kernel {
        id: "softmax-backward",
        family: Family::Softmax,
        dtype: DType::F32,
        summary: "row softmax backward from the saved output: dx = y (dy - sum(dy y)), one workgroup per row",
        shader: "softmax_grad.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: SOFTMAX_QUICK,
        full: SOFTMAX_FULL,
        variants: &[],
        imp: &kernels::Backward::Softmax,
    },
    Kernel {
        id: "gelu-tanh-backward",
        family: Family::Gelu,
        dtype: DType::F32,
        summary: "GELU (tanh form) backward, elementwise",
        shader: "activation_grad.wgsl",
        entry_points: &["gelu_tanh"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: GELU_TANH_QUICK,
        full: GELU_TANH_FULL,
        variants: &[],
        imp: &kernels::Backward::Gelu { erf: false },
    },
    Kernel {
        id: "gelu-erf-backward",
        family: Family::Gelu,
        dtype: DType::F32,
        summary: "GELU (exact erf form) backward, elementwise",
        shader: "activation_grad.wgsl",
        entry_points: &["gelu_erf"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: GELU_ERF_QUICK,
        full: GELU_ERF_FULL,
        variants: &[],
        imp: &kernels::Backward::Gelu { erf: true },
    },
    Kernel {
        id: "silu-backward",
        family: Family::Silu,
        dtype: DType::F32,
        summary: "SiLU backward, elementwise",
        shader: "activation_grad.wgsl",
        entry_points: &["silu"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: SILU_QUICK,
        full: SILU_FULL,
        variants: &[],
        imp: &kernels::Backward::Silu,
    },
    Kernel {
        id: "swiglu-backward",
        family: Family::Swiglu,
        dtype: DType::F32,
        summary: "SwiGLU backward: dgate and dup, elementwise",
        shader: "activation_grad.wgsl",
        entry_points: &["swiglu_gate", "swiglu_up"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: SWIGLU_QUICK,
        full: SWIGLU_FULL,
        variants: &[],
        imp: &kernels::Backward::SwiGlu,
    },
    Kernel {
        id: "layernorm-backward",
        family: Family::Layernorm,
        dtype: DType::F32,
        summary: "LayerNorm backward: dx per row (one workgroup), dgamma and dbeta per column from saved row statistics",
        shader: "norm_grad.wgsl",
        entry_points: &["layernorm_rows", "layernorm_columns"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: LAYERNORM_QUICK,
        full: LAYERNORM_FULL,
        variants: &[],
        imp: &kernels::Backward::Norm { rms: false },
    },
    Kernel {
        id: "rmsnorm-backward",
        family: Family::Rmsnorm,
        dtype: DType::F32,
        summary: "RMSNorm backward: dx per row (one workgroup), dgamma per column from saved row statistics",
        shader: "norm_grad.wgsl",
        entry_points: &["rmsnorm_rows", "rmsnorm_columns"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: RMSNORM_QUICK,
        full: RMSNORM_FULL,
        variants: &[],
        imp: &kernels::Backward::Norm { rms: true },
    },
    Kernel {
        id: "embedding-backward",
        family: Family::Embedding,
        dtype: DType::F32,
        summary: "embedding backward: dy rows summed into their ids' table rows, deterministic (no atomics)",
        shader: "embedding_grad.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: EMBEDDING_QUICK,
        full: params! { "gpt2-t512": { tokens = 512, vocab = 50257, hidden = 768 } },
        variants: &[],
        imp: &kernels::Backward::Embedding,
    },
    Kernel {
        id: "attention-backward",
        family: Family::Attention,
        dtype: DType::F32,
        summary: "flash-style causal attention backward: probabilities recomputed from saved log-sum-exps, dq per query row, dk and dv per key row",
        shader: "attention_grad.wgsl",
        entry_points: &["row_stats", "grad_q", "grad_k", "grad_v"],
        requires: &[],
        tolerance: Tolerance::PERMISSIVE,
        quick: params! {
            "b1h4s64d32": { batch = 1, heads = 4, seq_len = 64, head_dim = 32 },
            "b2h3s37d16": { batch = 2, heads = 3, seq_len = 37, head_dim = 16 },
        },
        full: params! {
            "h8s1024d64": { batch = 1, heads = 8, seq_len = 1024, head_dim = 64 },
            "h16s2048d64": { batch = 1, heads = 16, seq_len = 2048, head_dim = 64 },
        },
        variants: ATTENTION_BACKWARD_VARIANTS,
        imp: &kernels::Backward::Attention { unfused: false },
    },
    Kernel {
        id: "cross-entropy",
        family: Family::CrossEntropy,
        dtype: DType::F32,
        summary: "softmax cross-entropy against target ids fused with its gradient: dlogits and each row's loss",
        shader: "cross_entropy.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: CROSS_ENTROPY_QUICK,
        full: CROSS_ENTROPY_FULL,
        variants: &[],
        imp: &kernels::Backward::CrossEntropy,
    },
    Kernel {
        id: "cross-entropy-f16",
        family: Family::CrossEntropy,
        dtype: DType::F16,
        summary: "softmax cross-entropy against target ids fused with its gradient; fp16 logits, gradient and losses, f32 arithmetic",
        shader: "cross_entropy_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: CROSS_ENTROPY_QUICK,
        full: CROSS_ENTROPY_FULL,
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Backward::CrossEntropy, output_f16: true },
    },
    Kernel {
        id: "adamw",
        family: Family::Adamw,
        dtype: DType::F32,
        summary: "AdamW step (decoupled weight decay, bias-corrected moments), elementwise, out of place",
        shader: "adamw.wgsl",
        entry_points: &["main"],
        requires: &[],
        tolerance: Tolerance::BALANCED,
        quick: ADAMW_QUICK,
        full: ADAMW_FULL,
        variants: &[],
        imp: &kernels::Backward::AdamW,
    },
    Kernel {
        id: "adamw-f16",
        family: Family::Adamw,
        dtype: DType::F16,
        summary: "AdamW step, elementwise, out of place; fp16 weights and gradients, f32 moments and arithmetic",
        shader: "adamw_f16.wgsl",
        entry_points: &["main"],
        requires: &["shader-f16"],
        tolerance: Tolerance::HALF,
        quick: ADAMW_QUICK,
        full: ADAMW_FULL,
        // The updated weights come back in f32 beside the f32 moments.
        variants: &[],
        imp: &kernels::Half { kernel: kernels::Backward::AdamW, output_f16: false },
    },
];

/// Selects catalogue entries by kernel id or family name, keeping catalogue order; none, or
/// `all`, is the whole catalogue. A kernel id means that kernel alone (`softmax` is the f32
/// softmax, not its family), so a name is a family only where no kernel has it as its id
/// (`matmul`, `gelu`, `attention`, `kvcache`).
pub fn select(names: &[String]) -> Result<Vec<&'static Kernel>, UnknownKernel> {
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(KERNELS.iter().collect());
    }
    let is_id = |n: &str| KERNELS.iter().any(|k| k.id == n);
    let picks = |k: &Kernel, n: &str| k.id == n || (!is_id(n) && k.family.name() == n);
    for n in names {
        if !KERNELS.iter().any(|k| picks(k, n)) {
            return Err(UnknownKernel(n.clone()));
        }
    }
    Ok(KERNELS.iter().filter(|k| names.iter().any(|n| picks(k, n))).collect())
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown kernel or family `{0}`; kernels: {kernels}; families: {families}; or `all`",
    kernels = KERNELS.iter().map(|k| k.id).collect::<Vec<_>>().join(", "),
    families = Family::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownKernel(pub String);
