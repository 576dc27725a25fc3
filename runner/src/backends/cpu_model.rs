//! native-cpu's f32 arithmetic behind [`HostOps`]: packed `gemm` GEMMs and rayon-parallel rows
//! and chunks. Its catalogue kernels (norms, GELU, SwiGLU, RoPE, and the model operations) call
//! these same functions, so native-cpu runs every model the graph describes with exactly the
//! code its kernel records time.

use harness::host::{Prepared, RunError};
use harness::kernels::Inputs;
use harness::kernels::MelSetup;
use harness::model::exec::{HostOps, NORM_EPS};
use harness::op::{CacheDims, Conv1dDims, Op};
use harness::schema::NormKind;
use rayon::prelude::*;

use super::cpu::{sgemm, sum8};

/// Rows per rayon task below which a row loop stays on one thread (hand-off costs more).
const MIN_ROWS: usize = 8;
/// Elements per rayon task of GELU and SwiGLU: their tanh/erf/exp make even 4k elements worth
/// a task (a model's prompt pass has tens of thousands, a decode step a few hundred).
const CHUNK: usize = 1 << 12;

pub(super) fn silu(v: f32) -> f32 {
    v / (1.0 + (-v).exp())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CpuOps;

impl HostOps for CpuOps {
    type T = f32;

    fn from_f32(v: f32) -> f32 {
        v
    }

    fn to_f32(v: f32) -> f32 {
        v
    }

    fn round_half(v: f32) -> f32 {
        half::f16::from_f32(v).to_f32()
    }

    fn matmul(&self, x: &[f32], w: &[f32], m: usize, k: usize, n: usize, out: &mut [f32]) {
        sgemm(m, n, k, x, k, w, n, out, n, false);
    }

    fn norm(
        &self,
        kind: NormKind,
        x: &[f32],
        gamma: &[f32],
        beta: Option<&[f32]>,
        _rows: usize,
        cols: usize,
        out: &mut [f32],
    ) {
        out.par_chunks_mut(cols).zip(x.par_chunks(cols)).with_min_len(MIN_ROWS).for_each(|(y, x)| {
            let n = cols as f32;
            match (kind, beta) {
                (NormKind::LayerNorm, Some(b)) => {
                    let mean = sum8(x.iter().copied()) / n;
                    let var = sum8(x.iter().map(|&v| (v - mean) * (v - mean))) / n;
                    let inv = 1.0 / (var + NORM_EPS).sqrt();
                    for (((o, &v), &gg), &bb) in y.iter_mut().zip(x).zip(gamma).zip(b) {
                        *o = (v - mean) * inv * gg + bb;
                    }
                }
                (NormKind::LayerNorm, None) => unreachable!("LayerNorm has a shift"),
                (NormKind::RmsNorm, _) => {
                    let inv = 1.0 / (sum8(x.iter().map(|&v| v * v)) / n + NORM_EPS).sqrt();
                    for ((o, &v), &gg) in y.iter_mut().zip(x).zip(gamma) {
                        *o = v * inv * gg;
                    }
                }
            }
        });
    }

    fn add(&self, a: &[f32], b: &[f32], b_len: usize, out: &mut [f32]) {
        out.par_chunks_mut(b_len).zip(a.par_chunks(b_len)).for_each(|(o, a)| {
            for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                *o = x + y;
            }
        });
    }

    fn gelu(&self, x: &[f32], erf: bool, out: &mut [f32]) {
        out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(o, x)| {
            for (o, &v) in o.iter_mut().zip(x) {
                *o = if erf {
                    0.5 * v * (1.0 + libm::erff(v * std::f32::consts::FRAC_1_SQRT_2))
                } else {
                    0.5 * v * (1.0 + (0.797_884_6 * (v + 0.044715 * v * v * v)).tanh())
                };
            }
        });
    }

    fn swiglu(&self, gate: &[f32], up: &[f32], out: &mut [f32]) {
        out.par_chunks_mut(CHUNK).zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK))).for_each(|(o, (g, u))| {
            for ((o, &g), &u) in o.iter_mut().zip(g).zip(u) {
                *o = silu(g) * u;
            }
        });
    }

    fn rope(&self, x: &[f32], cos: &[f32], sin: &[f32], heads: usize, head_dim: usize, first: usize, out: &mut [f32]) {
        let (d, half) = (head_dim, head_dim / 2);
        let token = heads * d;
        // Tasks of at least ~64k elements: below that, rayon's hand-off costs more than it saves.
        let min_tokens = ((1 << 16) / token.max(1)).max(1);
        out.par_chunks_mut(token).zip(x.par_chunks(token)).enumerate().with_min_len(min_tokens).for_each(
            |(t, (y, x))| {
                let t = first + t;
                let (c, s) = (&cos[t * half..][..half], &sin[t * half..][..half]);
                for (yr, xr) in y.chunks_mut(d).zip(x.chunks(d)) {
                    let (a, b) = xr.split_at(half);
                    let (ya, yb) = yr.split_at_mut(half);
                    for i in 0..half {
                        ya[i] = a[i] * c[i] - b[i] * s[i];
                        yb[i] = b[i] * c[i] + a[i] * s[i];
                    }
                }
            },
        );
    }

    fn attend(&self, q: &[f32], k_cache: &[f32], v_cache: &[f32], slots: &[usize], s: CacheDims, out: &mut [f32]) {
        let (d, group) = (s.head_dim, s.heads / s.kv_heads);
        let row = s.kv_heads * d;
        let scale = 1.0 / (d as f32).sqrt();
        // One task per (query, head): each a dot-product sweep over its keys, then a weighted sum.
        out.par_chunks_mut(d).enumerate().for_each_init(Vec::new, |scores, (qh, o)| {
            let (t, h) = (qh / s.heads, qh % s.heads);
            let keys = s.keys_of(t);
            let kvh = h / group;
            let qv = &q[qh * d..][..d];
            scores.clear();
            scores.extend((0..keys).map(|j| {
                let kv = &k_cache[slots[j] * row + kvh * d..][..d];
                qv.iter().zip(kv).map(|(a, b)| a * b).sum::<f32>() * scale
            }));
            let m = scores.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut z = 0.0;
            for v in scores.iter_mut() {
                *v = (*v - m).exp();
                z += *v;
            }
            o.fill(0.0);
            for (j, p) in scores.iter().enumerate() {
                let vv = &v_cache[slots[j] * row + kvh * d..][..d];
                for (ov, &x) in o.iter_mut().zip(vv) {
                    *ov += p / z * x;
                }
            }
        });
    }

    fn logits(&self, x: &[f32], w: &[f32], out: &mut [f32]) {
        let h = x.len();
        out.par_iter_mut().enumerate().with_min_len(256).for_each(|(v, o)| {
            *o = x.iter().zip(&w[v * h..][..h]).map(|(a, b)| a * b).sum();
        });
    }

    /// The decode shape (one row) dots each output's blocks straight from the packed levels,
    /// outputs in parallel; more rows dequantise the weights to f32 inside the call, then one
    /// packed GEMM (as CPU runtimes do once a batch amortises the dequantisation).
    fn quant_matmul(&self, x: &[f32], q: &harness::quant::Quantized, m: usize, out: &mut [f32]) {
        use harness::quant::{BLOCK, QuantFormat};
        let (k, n) = (q.k, q.rows);
        let blocks = k / BLOCK;
        let wpb = q.format.words_per_block();
        let scales: Vec<f32> = q.scales.iter().map(|&s| gemm::f16::from_bits(s).to_f32()).collect();
        // The levels of block `s` (of the whole matrix).
        let levels = |s: usize, lv: &mut [f32; BLOCK]| {
            let words = &q.words[s * wpb..][..wpb];
            match q.format {
                QuantFormat::Q8 => {
                    for (w, word) in words.iter().enumerate() {
                        for b in 0..4 {
                            lv[w * 4 + b] = f32::from((word >> (8 * b)) as u8 as i8);
                        }
                    }
                }
                QuantFormat::Q4 => {
                    for (w, word) in words.iter().enumerate() {
                        for b in 0..8 {
                            lv[w * 8 + b] = ((word >> (4 * b)) & 0xf) as f32 - 8.0;
                        }
                    }
                }
            }
        };
        if m == 1 {
            out[..n].par_iter_mut().enumerate().with_min_len(16).for_each(|(j, y)| {
                let mut lv = [0f32; BLOCK];
                let mut acc = 0f32;
                for b in 0..blocks {
                    let s = j * blocks + b;
                    levels(s, &mut lv);
                    acc += scales[s] * sum8(x[b * BLOCK..][..BLOCK].iter().zip(&lv).map(|(a, l)| a * l));
                }
                *y = acc;
            });
        } else {
            let mut deq = vec![0f32; n * k];
            deq.par_chunks_mut(BLOCK).enumerate().with_min_len(64).for_each(|(s, o)| {
                let mut lv = [0f32; BLOCK];
                levels(s, &mut lv);
                for (v, l) in o.iter_mut().zip(lv) {
                    *v = scales[s] * l;
                }
            });
            // x (m, k) times deq^T: deq is (n, k), read transposed.
            sgemm(m, n, k, x, k, &deq, k, &mut out[..m * n], n, true);
        }
    }

    fn logmel(&self, pcm: &[f32], n_mels: usize, out: &mut [f32]) {
        MelPlan::new(n_mels, pcm.len()).run(pcm, out);
    }

    /// im2col (each output position's taps as a row), one packed GEMM against the weights as
    /// stored, then the bias; a channel-major output is one transpose.
    fn conv1d(&self, x: &[f32], w: &[f32], b: &[f32], d: Conv1dDims, out: &mut [f32]) {
        let (ck, n) = (d.c_in * d.kernel, d.out_len());
        let mut cols = vec![0f32; n * ck];
        cols.par_chunks_mut(ck).enumerate().with_min_len(MIN_ROWS).for_each(|(t, row)| {
            for c in 0..d.c_in {
                for j in 0..d.kernel {
                    let s = (t * d.stride + j) as isize - d.pad() as isize;
                    if (0..d.length as isize).contains(&s) {
                        row[c * d.kernel + j] = x[c * d.in_stride + s as usize];
                    }
                }
            }
        });
        let mut y = vec![0f32; n * d.c_out];
        // (n, ck) x (ck, c_out), the weights (c_out, ck) read transposed.
        sgemm(n, d.c_out, ck, &cols, ck, w, ck, &mut y, d.c_out, true);
        y.par_chunks_mut(d.c_out).with_min_len(MIN_ROWS).for_each(|row| {
            for (v, bias) in row.iter_mut().zip(b) {
                *v += bias;
            }
        });
        if d.time_major {
            out[..y.len()].copy_from_slice(&y);
        } else {
            for (t, row) in y.chunks(d.c_out).enumerate() {
                for (o, &v) in row.iter().enumerate() {
                    out[o * n + t] = v;
                }
            }
        }
    }
}

/// Whisper's log-mel on native-cpu: frames in parallel through realfft, the sparse filterbank,
/// then Whisper's (mels, frames) layout. Planned once per shape.
pub struct MelPlan {
    setup: MelSetup,
    fft: std::sync::Arc<dyn realfft::RealToComplex<f32>>,
}

impl MelPlan {
    pub fn new(n_mels: usize, n_samples: usize) -> Self {
        let setup = MelSetup::new(n_mels, n_samples);
        let fft = realfft::RealFftPlanner::<f32>::new().plan_fft_forward(setup.n_fft);
        MelPlan { setup, fft }
    }

    /// Elements of the output.
    pub fn out_len(&self) -> usize {
        self.setup.n_mels * self.setup.n_frames
    }

    pub fn run(&self, pcm: &[f32], out: &mut [f32]) {
        let (st, fft) = (&self.setup, &self.fft);
        let mut by_frame = vec![0f32; st.n_frames * st.n_mels];
        by_frame.par_chunks_mut(st.n_mels).enumerate().for_each_init(
            || (fft.make_input_vec(), fft.make_output_vec(), fft.make_scratch_vec(), vec![0f32; st.n_bins]),
            |(inp, spec, scratch, power), (f, mels)| {
                let start = (f * st.hop) as isize - (st.n_fft / 2) as isize;
                for (p, x) in inp.iter_mut().enumerate() {
                    *x = pcm[harness::kernels::reflect_index(start + p as isize, pcm.len())] * st.window[p];
                }
                fft.process_with_scratch(inp, spec, scratch).expect("buffer sizes come from the plan");
                for (pw, z) in power.iter_mut().zip(spec.iter()) {
                    *pw = z.re * z.re + z.im * z.im;
                }
                for (m, out) in mels.iter_mut().enumerate() {
                    let (lo, hi) = st.ranges[m];
                    let w = &st.weights[m * st.n_bins..];
                    let e: f32 = (lo..hi).map(|k| w[k] * power[k]).sum();
                    *out = e.max(1e-10).log10();
                }
            },
        );
        for (f, row) in by_frame.chunks(st.n_mels).enumerate() {
            for (m, &v) in row.iter().enumerate() {
                out[m * st.n_frames + f] = v;
            }
        }
    }
}

/// A model operation as a catalogue kernel on native-cpu: the same [`CpuOps`] code a model run
/// uses, so the catalogue entry times exactly what models execute.
pub struct ModelOp {
    op: Op,
    inputs: Inputs,
    out: Vec<f32>,
}

impl ModelOp {
    pub fn new(op: Op, inputs: &Inputs) -> Self {
        ModelOp { op, inputs: inputs.clone(), out: Vec::new() }
    }
}

impl Prepared for ModelOp {
    fn run(&mut self) -> Result<(), RunError> {
        let ops = CpuOps;
        match self.op {
            Op::Add { len, b_len, .. } => {
                let i = self.inputs.add();
                self.out.resize(len, 0.0);
                ops.add(&i.a, &i.b, b_len, &mut self.out);
            }
            Op::LmHead { vocab, .. } => {
                let i = self.inputs.lm_head();
                self.out.resize(vocab, 0.0);
                ops.logits(&i.x, &i.w, &mut self.out);
            }
            Op::CachedAttention { dims: d, .. } => {
                let i = self.inputs.cached_attention();
                let keys = d.keys();
                let row = d.kv_heads * d.head_dim;
                let slot = |t: usize| i.page_table[t / d.page_size] as usize * d.page_size + t % d.page_size;
                let slots: Vec<usize> = (0..keys).map(slot).collect();
                let cap = i.page_table.len() * d.page_size * row;
                let (mut kc, mut vc) = (vec![0f32; cap], vec![0f32; cap]);
                // Append: the cached positions, then the block's, each into its paged slot.
                for t in 0..keys {
                    let (k, v) = if t < d.first {
                        (&i.pre_k[t * row..], &i.pre_v[t * row..])
                    } else {
                        (&i.k[(t - d.first) * row..], &i.v[(t - d.first) * row..])
                    };
                    kc[slots[t] * row..][..row].copy_from_slice(&k[..row]);
                    vc[slots[t] * row..][..row].copy_from_slice(&v[..row]);
                }
                self.out.resize(d.tokens * d.heads * d.head_dim, 0.0);
                ops.attend(&i.q, &kc, &vc, &slots, d, &mut self.out);
            }
            Op::Conv1d { dims: d, .. } => {
                let i = self.inputs.conv1d();
                self.out.resize(d.c_out * d.out_len(), 0.0);
                ops.conv1d(&i.x, &i.w, &i.b, d, &mut self.out);
            }
            other => return Err(RunError(format!("not a model operation: {other:?}"))),
        }
        Ok(())
    }

    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.out.clone())
    }
}
