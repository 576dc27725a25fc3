//! `native-cpu`: what good native code gets from this CPU. Multi-threaded (rayon), cache-blocked
//! GEMMs from the `gemm` crate (packed, SIMD microkernels, f32 and f16), `realfft` for the STFT,
//! and f32 loops written so the compiler vectorises them. The plain references in
//! `harness::reference` stay the ground truth; this backend is checked against them like any other.

use harness::catalogue::{DType, Kernel, Params};
use harness::host::{Prepared, RunError};
use harness::kernels::AttentionVariant;
use harness::kernels::{Inputs, KvCacheInputs};
use harness::model::exec::HostOps as _;
use harness::op::{AttentionDims, KvDims, LogMelDims, MatmulDims, Op, RopeDims, RowsDims};
use harness::schema::NormKind;
use rayon::prelude::*;

use super::cpu_model::{CpuOps, silu};

/// `None` when this backend has no implementation for the kernel (a `skipped` record says so).
pub fn prepare(kernel: &Kernel, p: &Params, inputs: &Inputs) -> Option<Box<dyn Prepared>> {
    let op = kernel.imp.op(p);
    let inner = prepare_op(op, inputs)?;
    Some(match op {
        // matmul-f16 rounds in place; the fp16 LM head keeps f32 logits.
        Op::Matmul { .. } | Op::LmHead { .. } => inner,
        _ if op.dtype() == DType::F16 => Box::new(HalfOutput { inner, y: vec![] }),
        _ => inner,
    })
}

/// native-cpu's fp16 variants: f32 arithmetic on the fp16 values the inputs already hold, the
/// output rounded to fp16 inside the timed run (the shaders' contract). Storage stays f32 here,
/// so these timings carry no bandwidth saving (and one extra copy); matmul-f16 rounds in place.
struct HalfOutput {
    inner: Box<dyn Prepared>,
    y: Vec<f32>,
}

impl Prepared for HalfOutput {
    fn run(&mut self) -> Result<(), RunError> {
        self.inner.run()?;
        self.y = self.inner.output()?;
        self.y.par_chunks_mut(1 << 14).for_each(|c| {
            for v in c {
                *v = gemm::f16::from_f32(*v).to_f32();
            }
        });
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

fn prepare_op(op: Op, inputs: &Inputs) -> Option<Box<dyn Prepared>> {
    Some(match op {
        Op::Matmul { dims, dtype: DType::F16 } => Box::new(MatmulF16::new(dims, inputs)),
        Op::Matmul { dims, dtype: DType::F32 } => Box::new(MatmulF32::new(dims, inputs)),
        // Quantised products are Op::QuantMatmul; no catalogue entry makes these.
        Op::Matmul { dtype: DType::Q8 | DType::Q4, .. } => return None,
        Op::Softmax { dims, .. } => Box::new(Rowwise::new(dims, inputs, RowOp::Softmax)),
        Op::LayerNorm { dims, .. } => Box::new(Rowwise::new(dims, inputs, RowOp::LayerNorm)),
        Op::RmsNorm { dims, .. } => Box::new(Rowwise::new(dims, inputs, RowOp::RmsNorm)),
        Op::Gelu { len, erf, .. } => Box::new(Gelu { x: inputs.unary().x.clone(), y: vec![0.0; len], erf }),
        Op::Silu { len, .. } => Box::new(Swish { x: inputs.unary().x.clone(), up: None, y: vec![0.0; len] }),
        Op::SwiGlu { len, .. } => {
            let g = inputs.glu();
            Box::new(Swish { x: g.gate.clone(), up: Some(g.up.clone()), y: vec![0.0; len] })
        }
        Op::Embedding { dims: d, .. } => {
            let i = inputs.embedding();
            Box::new(Embedding {
                table: i.table.clone(),
                ids: i.ids.clone(),
                y: vec![0.0; d.tokens * d.hidden],
                hidden: d.hidden,
            })
        }
        Op::Rope { dims: d, .. } => {
            let i = inputs.rope();
            Box::new(Rope { x: i.x.clone(), cos: i.cos.clone(), sin: i.sin.clone(), y: vec![0.0; i.x.len()], dims: d })
        }
        Op::Attention { dims, variant: AttentionVariant::Window, .. } => Box::new(WindowAttention::new(dims, inputs)),
        // Flash and unfused compute the same causal attention; native code has one best way.
        Op::Attention { dims, variant: AttentionVariant::Unfused | AttentionVariant::Flash, .. } => {
            Box::new(CausalAttention::new(dims, inputs))
        }
        Op::LogMel(d) => Box::new(LogMel::new(d, inputs)),
        Op::QuantMatmul { dims, format } => Box::new(QuantMatmul::new(dims, format, inputs)),
        Op::Int8Matmul { dims } => Box::new(Int8Matmul::new(dims, inputs)),
        Op::KvCache { dims, stream, .. } => Box::new(KvDecode::new(dims, inputs, stream)),
        Op::Grad(g) => Box::new(super::cpu_grad::GradKernel::new(g, inputs)),
        Op::Peak(harness::op::PeakOp::Copy { .. }) => {
            Box::new(PeakCopy { x: inputs.unary().x.clone(), y: vec![0.0; inputs.unary().x.len()] })
        }
        Op::Peak(harness::op::PeakOp::Fma { iters, .. }) => {
            let x = inputs.unary().x.clone();
            Box::new(PeakFma { y: vec![0.0; x.len()], x, iters })
        }
        op @ (Op::Add { .. } | Op::CachedAttention { .. } | Op::LmHead { .. } | Op::Conv1d { .. }) => {
            Box::new(super::cpu_model::ModelOp::new(op, inputs))
        }
    })
}

/// C = A B for row-major f32 slices, through gemm's packed kernels on all threads.
#[allow(clippy::too_many_arguments, reason = "mirrors BLAS sgemm: shapes and leading dimensions")]
pub(crate) fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    b_transposed: bool,
) {
    assert!(a.len() >= (m - 1) * lda + k && c.len() >= (m - 1) * ldc + n);
    let (rhs_cs, rhs_rs) = if b_transposed { (ldb as isize, 1) } else { (1, ldb as isize) };
    // SAFETY: the asserts above and the callers' shapes keep every index gemm computes inside the
    // slices (row-major: element (i, j) at i * ld + j; transposed B: (kk, j) at j * ldb + kk), and
    // `c` is exclusively borrowed.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            false,
            a.as_ptr(),
            1,
            lda as isize,
            b.as_ptr(),
            rhs_cs,
            rhs_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

struct MatmulF32 {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    dims: [usize; 4],
}

impl MatmulF32 {
    fn new(d: MatmulDims, i: &Inputs) -> Self {
        let dims = [d.m, d.n, d.k, d.batch];
        let i = i.matmul();
        MatmulF32 { a: i.a.clone(), b: i.b.clone(), c: vec![0.0; dims[0] * dims[1] * dims[3]], dims }
    }
}

impl Prepared for MatmulF32 {
    fn run(&mut self) -> Result<(), RunError> {
        let [m, n, k, batch] = self.dims;
        for bi in 0..batch {
            sgemm(m, n, k, &self.a[bi * m * k..], k, &self.b[bi * k * n..], n, &mut self.c[bi * m * n..], n, false);
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.c.clone())
    }
}

/// fp16 storage with f32 accumulation, the contract of matmul_f16.wgsl: inputs and output are
/// f16 values, the products accumulate in f32. (gemm's own f16 kernel was tried and failed the
/// check at K = 2048: 97 of 4.2M elements beyond the `half` tolerance.)
struct MatmulF16 {
    inner: MatmulF32,
}

impl MatmulF16 {
    fn new(d: MatmulDims, i: &Inputs) -> Self {
        // The inputs already hold f16-representable values (the kernel's input generator rounds).
        MatmulF16 { inner: MatmulF32::new(d, i) }
    }
}

impl Prepared for MatmulF16 {
    fn run(&mut self) -> Result<(), RunError> {
        self.inner.run()?;
        for v in self.inner.c.iter_mut() {
            *v = gemm::f16::from_f32(*v).to_f32();
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.inner.c.clone())
    }
}

enum RowOp {
    Softmax,
    LayerNorm,
    RmsNorm,
}

struct Rowwise {
    x: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    y: Vec<f32>,
    cols: usize,
    op: RowOp,
}

impl Rowwise {
    fn new(d: RowsDims, i: &Inputs, op: RowOp) -> Self {
        let cols = d.cols;
        let (x, gamma, beta) = match op {
            RowOp::Softmax => (i.unary().x.clone(), vec![], vec![]),
            RowOp::LayerNorm | RowOp::RmsNorm => {
                let n = i.norm();
                (n.x.clone(), n.gamma.clone(), n.beta.clone())
            }
        };
        Rowwise { y: vec![0.0; x.len()], x, gamma, beta, cols, op }
    }
}

/// Sum in 8 independent lanes so the loop vectorises (a single f32 accumulator would not).
pub(super) fn sum8(v: impl Iterator<Item = f32>) -> f32 {
    let mut acc = [0f32; 8];
    for (i, x) in v.enumerate() {
        acc[i & 7] += x;
    }
    acc.iter().sum()
}

impl Prepared for Rowwise {
    fn run(&mut self) -> Result<(), RunError> {
        let cols = self.cols;
        let rows = self.x.len() / cols;
        let (g, b) = (&self.gamma, &self.beta);
        match self.op {
            RowOp::Softmax => self.y.par_chunks_mut(cols).zip(self.x.par_chunks(cols)).for_each(|(y, x)| {
                let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = (v - m).exp();
                }
                let inv = 1.0 / sum8(y.iter().copied());
                y.iter_mut().for_each(|o| *o *= inv);
            }),
            RowOp::LayerNorm => CpuOps.norm(NormKind::LayerNorm, &self.x, g, Some(b), rows, cols, &mut self.y),
            RowOp::RmsNorm => CpuOps.norm(NormKind::RmsNorm, &self.x, g, None, rows, cols, &mut self.y),
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

struct Gelu {
    x: Vec<f32>,
    y: Vec<f32>,
    erf: bool,
}

impl Prepared for Gelu {
    fn run(&mut self) -> Result<(), RunError> {
        CpuOps.gelu(&self.x, self.erf, &mut self.y);
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// Bandwidth on native-cpu: a parallel memcpy in 1 MiB chunks, what `copy_from_slice` makes of
/// it on every core.
struct PeakCopy {
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Prepared for PeakCopy {
    fn run(&mut self) -> Result<(), RunError> {
        self.y.par_chunks_mut(1 << 18).zip(self.x.par_chunks(1 << 18)).for_each(|(y, x)| y.copy_from_slice(x));
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// The FMA peak on native-cpu: the shader's 16 chains per thread, four threads at a time (64
/// independent lanes keep the units busy instead of waiting on each chain's latency). With
/// AVX2 and FMA (detected at run time, as the gemm crate our GEMM uses does) the chains are
/// 256-bit FMAs, so no kernel here outruns its peak; elsewhere they are the multiply-adds LLVM
/// vectorises for the baseline target. fp16 runs in f32 here, as native-cpu's other fp16
/// variants do.
struct PeakFma {
    x: Vec<f32>,
    y: Vec<f32>,
    iters: usize,
}

const PEAK_LANES: usize = harness::kernels::FMA_LANES;

impl Prepared for PeakFma {
    fn run(&mut self) -> Result<(), RunError> {
        let (m, iters) = (harness::kernels::FMA_M, self.iters);
        self.y.par_chunks_mut(256).zip(self.x.par_chunks(256)).for_each(|(y, x)| {
            for (y, x) in y.chunks_mut(4).zip(x.chunks(4)) {
                let mut a = [[0.0f32; PEAK_LANES]; 4];
                let mut c = [[0.0f32; PEAK_LANES]; 4];
                for (t, &x) in x.iter().enumerate() {
                    for (l, (a, c)) in a[t].iter_mut().zip(&mut c[t]).enumerate() {
                        *a = x * [1.0, 0.5, 0.25, 0.125][l / 4];
                        *c = x * (1.0 - m);
                    }
                }
                fma_chains(&mut a, &c, m, iters);
                let a = std::hint::black_box(a);
                for (y, a) in y.iter_mut().zip(&a) {
                    *y = a.iter().sum();
                }
            }
        });
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// `a = a m + c`, `iters` times, on 64 lanes.
fn fma_chains(a: &mut [[f32; PEAK_LANES]; 4], c: &[[f32; PEAK_LANES]; 4], m: f32, iters: usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: both features were detected on this CPU just above.
        #[allow(unsafe_code)]
        unsafe {
            fma_chains_avx2(a, c, m, iters)
        };
        return;
    }
    for _ in 0..iters {
        for (a, c) in a.iter_mut().zip(c) {
            for (a, c) in a.iter_mut().zip(c) {
                *a = *a * m + c;
            }
        }
    }
}

/// Eight 256-bit registers of chains, one `vfmadd` each per step.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(a: &mut [[f32; PEAK_LANES]; 4], c: &[[f32; PEAK_LANES]; 4], m: f32, iters: usize) {
    use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_storeu_ps};
    let mv = _mm256_set1_ps(m);
    let flat_a = a.as_flattened_mut();
    let flat_c = c.as_flattened();
    // SAFETY: each load and store reads or writes 8 f32 at offset 8 i of 64-element arrays,
    // i < 8, inside them; the intrinsics take unaligned pointers.
    let mut r: [__m256; 8] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(flat_a.as_ptr().add(8 * i)) });
    let cv: [__m256; 8] = std::array::from_fn(|i| unsafe { _mm256_loadu_ps(flat_c.as_ptr().add(8 * i)) });
    for _ in 0..iters {
        for (r, c) in r.iter_mut().zip(&cv) {
            *r = _mm256_fmadd_ps(*r, mv, *c);
        }
    }
    for (i, r) in r.iter().enumerate() {
        // SAFETY: as the loads above.
        unsafe { _mm256_storeu_ps(flat_a.as_mut_ptr().add(8 * i), *r) };
    }
}

/// Block-quantised weights on native-cpu: the packed levels as the GPU holds them, multiplied
/// by [`CpuOps::quant_matmul`] (the code models run too).
struct QuantMatmul {
    x: Vec<f32>,
    q: harness::quant::Quantized,
    m: usize,
    y: Vec<f32>,
}

impl QuantMatmul {
    fn new(d: MatmulDims, format: harness::quant::QuantFormat, i: &Inputs) -> Self {
        let i = i.quant();
        let q = harness::quant::quantize(&i.w, d.n, d.k, format);
        QuantMatmul { x: i.x.clone(), q, m: d.m, y: vec![0.0; d.m * d.n] }
    }
}

impl Prepared for QuantMatmul {
    fn run(&mut self) -> Result<(), RunError> {
        CpuOps.quant_matmul(&self.x, &self.q, self.m, &mut self.y);
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// int8 x int8 on native-cpu: the activations quantised per 32-block inside the timed run (as
/// the shaders do), i8 dot products accumulated in i32 (LLVM widens and vectorises the 32-lane
/// loop), one f32 multiply by both scales per block.
struct Int8Matmul {
    x: Vec<f32>,
    /// q8 words are little-endian levels, so the packed weights read as i8 are the levels in order.
    w: Vec<i8>,
    w_scales: Vec<f32>,
    xq: Vec<i8>,
    xs: Vec<f32>,
    d: MatmulDims,
    y: Vec<f32>,
}

impl Int8Matmul {
    fn new(d: MatmulDims, i: &Inputs) -> Self {
        let i = i.quant();
        let q = harness::quant::quantize(&i.w, d.n, d.k, harness::quant::QuantFormat::Q8);
        let w = q.words.iter().flat_map(|w| w.to_le_bytes()).map(|b| b as i8).collect();
        let w_scales = q.scales.iter().map(|&s| gemm::f16::from_bits(s).to_f32()).collect();
        let blocks = d.m * d.k / harness::quant::BLOCK;
        Int8Matmul {
            x: i.x.clone(),
            w,
            w_scales,
            xq: vec![0; d.m * d.k],
            xs: vec![0.0; blocks],
            d,
            y: vec![0.0; d.m * d.n],
        }
    }
}

impl Prepared for Int8Matmul {
    fn run(&mut self) -> Result<(), RunError> {
        use harness::quant::{BLOCK, quantize_block};
        let MatmulDims { m, n, k, .. } = self.d;
        let blocks = k / BLOCK;
        self.xq
            .par_chunks_mut(BLOCK)
            .zip(self.xs.par_iter_mut())
            .zip(self.x.par_chunks(BLOCK))
            .with_min_len(256)
            .for_each(|((l, s), x)| *s = quantize_block(x, l));
        let (xq, xs, w, ws) = (&self.xq, &self.xs, &self.w, &self.w_scales);
        let cell = |i: usize, j: usize| -> f32 {
            (0..blocks)
                .map(|b| {
                    let a = &xq[(i * blocks + b) * BLOCK..][..BLOCK];
                    let c = &w[(j * blocks + b) * BLOCK..][..BLOCK];
                    let dot: i32 = a.iter().zip(c).map(|(&a, &c)| i32::from(a) * i32::from(c)).sum();
                    xs[i * blocks + b] * ws[j * blocks + b] * dot as f32
                })
                .sum()
        };
        if m == 1 {
            self.y.par_iter_mut().enumerate().with_min_len(16).for_each(|(j, y)| *y = cell(0, j));
        } else {
            self.y.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
                for (j, y) in row.iter_mut().enumerate() {
                    *y = cell(i, j);
                }
            });
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// Embedding rows copied by id; rows in parallel once there are enough of them.
struct Embedding {
    table: Vec<f32>,
    ids: Vec<u32>,
    y: Vec<f32>,
    hidden: usize,
}

impl Prepared for Embedding {
    fn run(&mut self) -> Result<(), RunError> {
        let (h, table) = (self.hidden, &self.table);
        let min_rows = ((1 << 16) / h.max(1)).max(1);
        self.y.par_chunks_mut(h).zip(self.ids.par_iter()).with_min_len(min_rows).for_each(|(y, &t)| {
            y.copy_from_slice(&table[t as usize * h..][..h]);
        });
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// RoPE, rotate-half, with the inputs' cos/sin table; tokens in parallel.
struct Rope {
    x: Vec<f32>,
    cos: Vec<f32>,
    sin: Vec<f32>,
    y: Vec<f32>,
    dims: RopeDims,
}

impl Prepared for Rope {
    fn run(&mut self) -> Result<(), RunError> {
        // The inputs' table holds exactly these tokens' positions: row 0 is the first token's.
        CpuOps.rope(&self.x, &self.cos, &self.sin, self.dims.heads, self.dims.head_dim, 0, &mut self.y);
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

/// SiLU, or SwiGLU when `up` is there.
struct Swish {
    x: Vec<f32>,
    up: Option<Vec<f32>>,
    y: Vec<f32>,
}

impl Prepared for Swish {
    fn run(&mut self) -> Result<(), RunError> {
        const CHUNK: usize = 1 << 14;
        match &self.up {
            None => self.y.par_chunks_mut(CHUNK).zip(self.x.par_chunks(CHUNK)).for_each(|(y, x)| {
                for (o, &v) in y.iter_mut().zip(x) {
                    *o = silu(v);
                }
            }),
            Some(up) => CpuOps.swiglu(&self.x, up, &mut self.y),
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.y.clone())
    }
}

struct Shape {
    bh: usize,
    s: usize,
    d: usize,
    scale: f32,
}

fn attn_shape(a: AttentionDims) -> Shape {
    let d = a.head_dim;
    Shape { bh: a.batch * a.heads, s: a.seq_len, d, scale: 1.0 / (d as f32).sqrt() }
}

/// Causal attention per head as two GEMMs around a masked softmax: S = Q K^T, P = softmax, O = P V.
/// The GEMMs do the masked upper triangle too; at these sizes their speed more than pays for it.
struct CausalAttention {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    o: Vec<f32>,
    scores: Vec<f32>,
    sh: Shape,
}

impl CausalAttention {
    fn new(a: AttentionDims, i: &Inputs) -> Self {
        let sh = attn_shape(a);
        CausalAttention {
            q: i.attention().q.clone(),
            k: i.attention().k.clone(),
            v: i.attention().v.clone(),
            o: vec![0.0; i.attention().q.len()],
            scores: vec![0.0; sh.s * sh.s],
            sh,
        }
    }
}

impl Prepared for CausalAttention {
    fn run(&mut self) -> Result<(), RunError> {
        let Shape { bh, s, d, scale } = self.sh;
        for h in 0..bh {
            let (q, k, v) =
                (&self.q[h * s * d..][..s * d], &self.k[h * s * d..][..s * d], &self.v[h * s * d..][..s * d]);
            sgemm(s, s, d, q, d, k, d, &mut self.scores, s, true);
            self.scores.par_chunks_mut(s).enumerate().for_each(|(i, row)| {
                let row = &mut row[..=i];
                let m = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x)) * scale;
                for x in row.iter_mut() {
                    *x = (*x * scale - m).exp();
                }
                let inv = 1.0 / sum8(row.iter().copied());
                row.iter_mut().for_each(|x| *x *= inv);
            });
            self.scores.par_chunks_mut(s).enumerate().for_each(|(i, row)| row[i + 1..].fill(0.0));
            sgemm(s, d, s, &self.scores, s, v, d, &mut self.o[h * s * d..], d, false);
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.o.clone())
    }
}

/// Sliding-window attention row by row: work per query is O(window * head_dim).
struct WindowAttention {
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    o: Vec<f32>,
    sh: Shape,
    window: usize,
}

impl WindowAttention {
    fn new(a: AttentionDims, i: &Inputs) -> Self {
        WindowAttention {
            q: i.attention().q.clone(),
            k: i.attention().k.clone(),
            v: i.attention().v.clone(),
            o: vec![0.0; i.attention().q.len()],
            sh: attn_shape(a),
            window: a.window,
        }
    }
}

impl Prepared for WindowAttention {
    fn run(&mut self) -> Result<(), RunError> {
        let Shape { s, d, scale, .. } = self.sh;
        let (q, k, v, w) = (&self.q, &self.k, &self.v, self.window);
        self.o.par_chunks_mut(d).enumerate().for_each_init(
            || vec![0f32; w],
            |scores, (row, out)| {
                let (h, i) = (row / s, row % s);
                let lo = (i + 1).saturating_sub(w);
                let qi = &q[row * d..][..d];
                let n = i + 1 - lo;
                for (t, sc) in scores[..n].iter_mut().enumerate() {
                    let kj = &k[(h * s + lo + t) * d..][..d];
                    *sc = sum8(qi.iter().zip(kj).map(|(a, b)| a * b)) * scale;
                }
                let m = scores[..n].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                out.fill(0.0);
                let mut l = 0.0;
                for (t, &sc) in scores[..n].iter().enumerate() {
                    let p = (sc - m).exp();
                    l += p;
                    for (o, &vv) in out.iter_mut().zip(&v[(h * s + lo + t) * d..][..d]) {
                        *o += p * vv;
                    }
                }
                out.iter_mut().for_each(|o| *o /= l);
            },
        );
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.o.clone())
    }
}

struct LogMel {
    pcm: Vec<f32>,
    plan: super::cpu_model::MelPlan,
    out: Vec<f32>,
}

impl LogMel {
    fn new(d: LogMelDims, i: &Inputs) -> Self {
        let pcm = &i.audio().pcm;
        let plan = super::cpu_model::MelPlan::new(d.n_mels, pcm.len());
        let out = vec![0.0; plan.out_len()];
        LogMel { pcm: pcm.clone(), plan, out }
    }
}

impl Prepared for LogMel {
    fn run(&mut self) -> Result<(), RunError> {
        self.plan.run(&self.pcm, &mut self.out);
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.out.clone())
    }
}

/// Decode over a contiguous per-(layer, head) cache: what a native engine does when it owns
/// its memory. Steps run in order; (layer, head) pairs in parallel.
struct KvDecode {
    inputs: KvCacheInputs,
    /// Streaming scenario: the prefill is part of the timed work (as on the GPU); a single
    /// decode step finds the cache filled at preparation.
    stream: bool,
    lh: usize,
    d: usize,
    context: usize,
    steps: usize,
    k: Vec<f32>,
    v: Vec<f32>,
    out: Vec<f32>,
}

impl KvDecode {
    fn new(k: KvDims, i: &Inputs, stream: bool) -> Self {
        let (lh, d, context, steps) = (k.layers * k.heads, k.head_dim, k.context, k.steps);
        let cap = context + steps;
        let mut kv = KvDecode {
            inputs: i.kv_cache().clone(),
            stream,
            lh,
            d,
            context,
            steps,
            k: vec![0.0; lh * cap * d],
            v: vec![0.0; lh * cap * d],
            out: vec![0.0; steps * lh * d],
        };
        if !stream {
            kv.prefill();
        }
        kv
    }

    /// Copies each sequence's first `context` tokens into its slab of the cache.
    fn prefill(&mut self) {
        let (d, ctx0, cap) = (self.d, self.context, self.context + self.steps);
        let (pre_k, pre_v) = (&self.inputs.pre_k, &self.inputs.pre_v);
        self.k.par_chunks_mut(cap * d).zip(self.v.par_chunks_mut(cap * d)).enumerate().for_each(|(h, (k, v))| {
            k[..ctx0 * d].copy_from_slice(&pre_k[h * ctx0 * d..][..ctx0 * d]);
            v[..ctx0 * d].copy_from_slice(&pre_v[h * ctx0 * d..][..ctx0 * d]);
        });
    }
}

impl Prepared for KvDecode {
    fn run(&mut self) -> Result<(), RunError> {
        let (lh, d, ctx0, steps) = (self.lh, self.d, self.context, self.steps);
        let cap = ctx0 + steps;
        let scale = 1.0 / (d as f32).sqrt();
        if self.stream {
            self.prefill();
        }
        let (new_k, new_v, query) = (&self.inputs.new_k, &self.inputs.new_v, &self.inputs.query);
        for step in 0..steps {
            let pos = ctx0 + step;
            let out = &mut self.out[step * lh * d..][..lh * d];
            self.k
                .par_chunks_mut(cap * d)
                .zip(self.v.par_chunks_mut(cap * d))
                .zip(out.par_chunks_mut(d))
                .enumerate()
                .for_each_init(
                    || vec![0f32; cap],
                    |scores, (h, ((k, v), o))| {
                        let src = (step * lh + h) * d;
                        k[pos * d..][..d].copy_from_slice(&new_k[src..][..d]);
                        v[pos * d..][..d].copy_from_slice(&new_v[src..][..d]);
                        let q = &query[src..][..d];
                        for (t, sc) in scores[..=pos].iter_mut().enumerate() {
                            *sc = sum8(q.iter().zip(&k[t * d..][..d]).map(|(a, b)| a * b)) * scale;
                        }
                        let m = scores[..=pos].iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                        o.fill(0.0);
                        let mut l = 0.0;
                        for (t, &sc) in scores[..=pos].iter().enumerate() {
                            let p = (sc - m).exp();
                            l += p;
                            for (oo, &vv) in o.iter_mut().zip(&v[t * d..][..d]) {
                                *oo += p * vv;
                            }
                        }
                        o.iter_mut().for_each(|x| *x /= l);
                    },
                );
        }
        Ok(())
    }
    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.out.clone())
    }
}

#[cfg(test)]
mod tests {
    use harness::catalogue::KERNELS;
    use harness::check::compare;

    #[test]
    fn every_kernel_matches_the_reference_on_several_seeds() {
        for k in KERNELS {
            for p in &k.params(harness::catalogue::Size::Quick) {
                for seed in [1, 2, 3] {
                    let inputs = k.imp.inputs(p, seed).unwrap();
                    let mut run = super::prepare(k, p, &inputs).unwrap_or_else(|| panic!("{} has no CPU path", k.id));
                    run.run().unwrap();
                    // Twice: a prepared kernel must give the same answer on every run.
                    run.run().unwrap();
                    let c = compare(&run.output().unwrap(), &k.imp.reference(p, &inputs), k.tolerance);
                    assert!(c.passed, "{} {} seed {seed}: {c:?}", k.id, p.case);
                }
            }
        }
    }
}
