//! The f64 reference of a whole model: the graph walked by [`super::exec`] with every
//! operation in f64, written as plainly as possible. At the quick scale it is the ground truth
//! the device's logits are checked against, step by step under forced decoding.

use super::exec::{HostOps, NORM_EPS};
use crate::op::{CacheDims, Conv1dDims};
use crate::schema::NormKind;

#[derive(Debug, Clone, Copy, Default)]
pub struct Reference;

impl HostOps for Reference {
    type T = f64;

    fn from_f32(v: f32) -> f64 {
        f64::from(v)
    }

    fn to_f32(v: f64) -> f32 {
        v as f32
    }

    fn round_half(v: f64) -> f64 {
        half::f16::from_f64(v).to_f64()
    }

    fn matmul(&self, x: &[f64], w: &[f64], m: usize, k: usize, n: usize, out: &mut [f64]) {
        for r in 0..m {
            let o = &mut out[r * n..][..n];
            o.fill(0.0);
            for (i, &xv) in x[r * k..][..k].iter().enumerate() {
                for (ov, &wv) in o.iter_mut().zip(&w[i * n..][..n]) {
                    *ov += xv * wv;
                }
            }
        }
    }

    fn norm(
        &self,
        kind: NormKind,
        x: &[f64],
        gamma: &[f64],
        beta: Option<&[f64]>,
        rows: usize,
        cols: usize,
        out: &mut [f64],
    ) {
        for r in 0..rows {
            let xs = &x[r * cols..][..cols];
            let n = cols as f64;
            let (mean, var) = match kind {
                NormKind::LayerNorm => {
                    let mean = xs.iter().sum::<f64>() / n;
                    (mean, xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
                }
                NormKind::RmsNorm => (0.0, xs.iter().map(|v| v * v).sum::<f64>() / n),
            };
            let inv = 1.0 / (var + f64::from(NORM_EPS)).sqrt();
            for (i, o) in out[r * cols..][..cols].iter_mut().enumerate() {
                *o = (xs[i] - mean) * inv * gamma[i] + beta.map_or(0.0, |b| b[i]);
            }
        }
    }

    fn add(&self, a: &[f64], b: &[f64], b_len: usize, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = a[i] + b[i % b_len];
        }
    }

    fn gelu(&self, x: &[f64], erf: bool, out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = if erf {
                0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))
            } else {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
            };
        }
    }

    fn swiglu(&self, gate: &[f64], up: &[f64], out: &mut [f64]) {
        for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
            *o = g / (1.0 + (-g).exp()) * u;
        }
    }

    fn rope(&self, x: &[f64], cos: &[f64], sin: &[f64], heads: usize, head_dim: usize, first: usize, out: &mut [f64]) {
        let half = head_dim / 2;
        for (row, (xr, yr)) in x.chunks(head_dim).zip(out.chunks_mut(head_dim)).enumerate() {
            let t = first + row / heads;
            for i in 0..half {
                let (c, s) = (cos[t * half + i], sin[t * half + i]);
                let (a, b) = (xr[i], xr[i + half]);
                yr[i] = a * c - b * s;
                yr[i + half] = b * c + a * s;
            }
        }
    }

    fn attend(&self, q: &[f64], k_cache: &[f64], v_cache: &[f64], slots: &[usize], s: CacheDims, out: &mut [f64]) {
        let (d, group) = (s.head_dim, s.heads / s.kv_heads);
        let row = s.kv_heads * d;
        let scale = 1.0 / (d as f64).sqrt();
        for t in 0..s.tokens {
            let keys = s.keys_of(t);
            for h in 0..s.heads {
                let kvh = h / group;
                let qv = &q[(t * s.heads + h) * d..][..d];
                let scores: Vec<f64> = (0..keys)
                    .map(|j| {
                        let kv = &k_cache[slots[j] * row + kvh * d..][..d];
                        qv.iter().zip(kv).map(|(a, b)| a * b).sum::<f64>() * scale
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|v| (v - m).exp()).collect();
                let z: f64 = e.iter().sum();
                let o = &mut out[(t * s.heads + h) * d..][..d];
                o.fill(0.0);
                for (j, p) in e.iter().enumerate() {
                    let vv = &v_cache[slots[j] * row + kvh * d..][..d];
                    for (ov, &x) in o.iter_mut().zip(vv) {
                        *ov += p / z * x;
                    }
                }
            }
        }
    }

    fn logits(&self, x: &[f64], w: &[f64], out: &mut [f64]) {
        let h = x.len();
        for (v, o) in out.iter_mut().enumerate() {
            *o = x.iter().zip(&w[v * h..][..h]).map(|(a, b)| a * b).sum();
        }
    }

    fn quant_matmul(&self, x: &[f64], w: &crate::quant::Quantized, m: usize, out: &mut [f64]) {
        // The dequantised weights, exactly as the kernels see them, in f64.
        let (k, n) = (w.k, w.rows);
        let deq = w.dequantize();
        for r in 0..m {
            for j in 0..n {
                let wr = &deq[j * k..][..k];
                out[r * n + j] = x[r * k..][..k].iter().zip(wr).map(|(a, &b)| a * f64::from(b)).sum();
            }
        }
    }

    fn logmel(&self, pcm: &[f64], n_mels: usize, out: &mut [f64]) {
        // The catalogue's f64 log-mel (the same ground truth as the `logmel` kernel's).
        let pcm: Vec<f32> = pcm.iter().map(|&v| v as f32).collect();
        let mel = crate::reference::logmel(&pcm, &crate::kernels::mel_config(n_mels));
        for (o, v) in out.iter_mut().zip(mel) {
            *o = f64::from(v);
        }
    }

    fn conv1d(&self, x: &[f64], w: &[f64], b: &[f64], d: Conv1dDims, out: &mut [f64]) {
        let pad = d.pad() as isize;
        for o in 0..d.c_out {
            for t in 0..d.out_len() {
                let mut acc = b[o];
                for c in 0..d.c_in {
                    for j in 0..d.kernel {
                        let s = (t * d.stride + j) as isize - pad;
                        if (0..d.length as isize).contains(&s) {
                            acc += w[(o * d.c_in + c) * d.kernel + j] * x[c * d.in_stride + s as usize];
                        }
                    }
                }
                out[d.out_index(o, t)] = acc;
            }
        }
    }
}
