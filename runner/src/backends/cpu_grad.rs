//! native-cpu's training kernels: each backward as good native code computes it (packed GEMMs
//! with transposed operands read in place, rayon over rows, f32 loops the compiler vectorises),
//! checked against `harness::grad`'s f64 references like the GPU kernels.

use harness::host::{Prepared, RunError};
use harness::kernels::{ADAMW, Inputs, NORM_EPS};
use harness::op::{AttentionDims, GradOp, RowsDims};
use rayon::prelude::*;

/// A training kernel's inputs and its output buffer (the gradients one after another).
pub(super) struct GradKernel {
    op: GradOp,
    inputs: Inputs,
    out: Vec<f32>,
}

impl GradKernel {
    pub(super) fn new(op: GradOp, inputs: &Inputs) -> Self {
        GradKernel { op, inputs: inputs.clone(), out: vec![0.0; op.output_len()] }
    }
}

/// `C (m, n) = A (m, k) B (k, n)` with each operand's element (row, col) at `row * rs + col *
/// cs`, so transposes are strides, on all threads.
#[allow(clippy::too_many_arguments, reason = "a strided GEMM: shapes and two strides per operand")]
pub(super) fn gemm_strided(
    (m, n, k): (usize, usize, usize),
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(k == 0 || (a.len() > last(m, k, a_rs, a_cs) && b.len() > last(k, n, b_rs, b_cs)));
    assert!(c.len() > last(m, n, ldc, 1));
    // SAFETY: the asserts keep every element gemm reads (row < m or k, col < k or n, at the given
    // strides) inside `a` and `b`, and every element it writes inside the exclusively borrowed `c`.
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
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn erf(x: f32) -> f32 {
    // Abramowitz-Stegun 7.1.26, the shaders' erf (|error| < 1.5e-7).
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * (-a * a).exp()).copysign(x)
}

pub(super) fn norm_backward(rms: bool, d: RowsDims, x: &[f32], gamma: &[f32], dy: &[f32], out: &mut [f32]) {
    let (rows, cols) = (d.rows, d.cols);
    let n = cols as f32;
    let (dx, params) = out.split_at_mut(rows * cols);
    let mut stats = vec![(0.0f32, 0.0f32); rows];
    dx.par_chunks_mut(cols).zip(stats.par_iter_mut()).enumerate().for_each(|(r, (dx, st))| {
        let (x, dy) = (&x[r * cols..][..cols], &dy[r * cols..][..cols]);
        let mean = if rms { 0.0 } else { x.iter().sum::<f32>() / n };
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + NORM_EPS).sqrt();
        let (mut mg, mut mgx) = (0.0f32, 0.0f32);
        for c in 0..cols {
            let g = dy[c] * gamma[c];
            mg += g;
            mgx += g * (x[c] - mean) * inv;
        }
        let (mg, mgx) = (if rms { 0.0 } else { mg / n }, mgx / n);
        for c in 0..cols {
            let xh = (x[c] - mean) * inv;
            dx[c] = inv * (dy[c] * gamma[c] - mg - xh * mgx);
        }
        *st = (mean, inv);
    });
    let (dg, db) = params.split_at_mut(cols);
    dg.fill(0.0);
    db.fill(0.0);
    for (r, &(mean, inv)) in stats.iter().enumerate() {
        let (x, dy) = (&x[r * cols..][..cols], &dy[r * cols..][..cols]);
        for c in 0..cols {
            dg[c] += dy[c] * (x[c] - mean) * inv;
        }
        if !rms {
            for c in 0..cols {
                db[c] += dy[c];
            }
        }
    }
}

/// Per head: P materialised (s x s, causal rows), then dV = P^T dO, dP = dO V^T, dS, dQ = dS K,
/// dK = dS^T Q, all GEMMs.
pub(super) fn attention_backward(d: AttentionDims, q: &[f32], k: &[f32], v: &[f32], dout: &[f32], out: &mut [f32]) {
    let (s, hd) = (d.seq_len, d.head_dim);
    let scale = 1.0 / (hd as f32).sqrt();
    let n = d.batch * d.heads * s * hd;
    let (dq, rest) = out.split_at_mut(n);
    let (dk, dv) = rest.split_at_mut(n);
    let (mut p, mut dp) = (vec![0.0f32; s * s], vec![0.0f32; s * s]);
    for h in 0..d.batch * d.heads {
        let o = h * s * hd;
        let (q, k, v, dout) = (&q[o..][..s * hd], &k[o..][..s * hd], &v[o..][..s * hd], &dout[o..][..s * hd]);
        gemm_strided((s, s, hd), q, (hd, 1), k, (1, hd), &mut p, s);
        p.par_chunks_mut(s).enumerate().for_each(|(i, row)| {
            let lo = (i + 1).saturating_sub(d.window);
            let seen = &mut row[lo..=i];
            let m = seen.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) * scale;
            for x in seen.iter_mut() {
                *x = (*x * scale - m).exp();
            }
            let inv = 1.0 / seen.iter().sum::<f32>();
            seen.iter_mut().for_each(|x| *x *= inv);
            row[..lo].fill(0.0);
            row[i + 1..].fill(0.0);
        });
        gemm_strided((s, hd, s), &p, (1, s), dout, (hd, 1), &mut dv[o..], hd);
        gemm_strided((s, s, hd), dout, (hd, 1), v, (1, hd), &mut dp, s);
        dp.par_chunks_mut(s).zip(p.par_chunks(s)).for_each(|(dp, p)| {
            let dsum: f32 = dp.iter().zip(p).map(|(a, b)| a * b).sum();
            for (g, &pr) in dp.iter_mut().zip(p) {
                *g = scale * pr * (*g - dsum);
            }
        });
        gemm_strided((s, hd, s), &dp, (s, 1), k, (hd, 1), &mut dq[o..], hd);
        gemm_strided((s, hd, s), &dp, (1, s), q, (hd, 1), &mut dk[o..], hd);
    }
}

impl Prepared for GradKernel {
    fn run(&mut self) -> Result<(), RunError> {
        let out = &mut self.out;
        match (self.op, &self.inputs) {
            (GradOp::Matmul { m, k, n }, Inputs::Backward(b)) => {
                let f = b.forward.matmul();
                let (dx, dw) = out.split_at_mut(m * k);
                gemm_strided((m, k, n), &b.dy, (n, 1), &f.b, (1, n), dx, k);
                gemm_strided((k, n, m), &f.a, (1, k), &b.dy, (n, 1), dw, n);
            }
            (GradOp::LayerNorm(d) | GradOp::RmsNorm(d), Inputs::Backward(b)) => {
                let f = b.forward.norm();
                norm_backward(matches!(self.op, GradOp::RmsNorm(_)), d, &f.x, &f.gamma, &b.dy, out);
            }
            (GradOp::Softmax(d), Inputs::Backward(b)) => {
                let y = &b.forward.unary().x;
                out.par_chunks_mut(d.cols).enumerate().for_each(|(r, dx)| {
                    let (y, dy) = (&y[r * d.cols..][..d.cols], &b.dy[r * d.cols..][..d.cols]);
                    let s: f32 = y.iter().zip(dy).map(|(a, b)| a * b).sum();
                    for c in 0..d.cols {
                        dx[c] = y[c] * (dy[c] - s);
                    }
                });
            }
            (GradOp::Gelu { erf: exact, .. }, Inputs::Backward(b)) => {
                let x = &b.forward.unary().x;
                let c = (2.0f32 / std::f32::consts::PI).sqrt();
                out.par_iter_mut().zip(x.par_iter().zip(&b.dy)).for_each(|(o, (&v, &g))| {
                    let d = if exact {
                        0.5 * (1.0 + erf(v * std::f32::consts::FRAC_1_SQRT_2))
                            + v * (-0.5 * v * v).exp() / (2.0 * std::f32::consts::PI).sqrt()
                    } else {
                        let t = (c * (v + 0.044715 * v * v * v)).clamp(-15.0, 15.0).tanh();
                        0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * v * v)
                    };
                    *o = g * d;
                });
            }
            (GradOp::Silu { .. }, Inputs::Backward(b)) => {
                let x = &b.forward.unary().x;
                out.par_iter_mut().zip(x.par_iter().zip(&b.dy)).for_each(|(o, (&v, &g))| {
                    let s = sigmoid(v);
                    *o = g * s * (1.0 + v * (1.0 - s));
                });
            }
            (GradOp::SwiGlu { len }, Inputs::Backward(b)) => {
                let f = b.forward.glu();
                let (dg, du) = out.split_at_mut(len);
                dg.par_iter_mut().zip(du.par_iter_mut()).enumerate().for_each(|(i, (dg, du))| {
                    let (a, s) = (f.gate[i], sigmoid(f.gate[i]));
                    *dg = b.dy[i] * f.up[i] * s * (1.0 + a * (1.0 - s));
                    *du = b.dy[i] * a * s;
                });
            }
            (GradOp::CrossEntropy { dims: d, .. }, Inputs::CrossEntropy(ce)) => {
                let (rows, vocab) = (d.rows, d.cols);
                let (dl, losses) = out.split_at_mut(rows * vocab);
                let scale = 1.0 / rows as f32;
                dl.par_chunks_mut(vocab).zip(losses.par_iter_mut()).enumerate().for_each(|(r, (g, loss))| {
                    let l = &ce.logits[r * vocab..][..vocab];
                    let m = l.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                    let z: f32 = l.iter().map(|v| (v - m).exp()).sum();
                    let t = ce.targets[r] as usize;
                    for c in 0..vocab {
                        g[c] = ((l[c] - m).exp() / z - if c == t { 1.0 } else { 0.0 }) * scale;
                    }
                    *loss = z.ln() + m - l[t];
                });
            }
            (GradOp::Embedding(d), Inputs::Backward(b)) => {
                out.fill(0.0);
                for (t, &id) in b.forward.embedding().ids.iter().enumerate() {
                    let row = &mut out[id as usize * d.hidden..][..d.hidden];
                    for (o, g) in row.iter_mut().zip(&b.dy[t * d.hidden..][..d.hidden]) {
                        *o += g;
                    }
                }
            }
            (GradOp::Attention(d), Inputs::Backward(b)) => {
                let f = b.forward.attention();
                attention_backward(d, &f.q, &f.k, &f.v, &b.dy, out);
            }
            (GradOp::AdamW { len, step, .. }, Inputs::AdamW(a)) => {
                let o = ADAMW;
                let c1 = 1.0 / (1.0 - o.beta1.powi(step as i32)) as f32;
                let c2 = 1.0 / (1.0 - o.beta2.powi(step as i32)) as f32;
                let (b1, b2, lr, eps, wd) =
                    (o.beta1 as f32, o.beta2 as f32, o.lr as f32, o.eps as f32, o.weight_decay as f32);
                let (po, rest) = out.split_at_mut(len);
                let (mo, vo) = rest.split_at_mut(len);
                po.par_iter_mut().zip(mo.par_iter_mut().zip(vo.par_iter_mut())).enumerate().for_each(
                    |(i, (p, (m, v)))| {
                        let g = a.g[i];
                        *m = b1 * a.m[i] + (1.0 - b1) * g;
                        *v = b2 * a.v[i] + (1.0 - b2) * g * g;
                        *p = a.p[i] - lr * ((*m * c1) / ((*v * c2).sqrt() + eps) + wd * a.p[i]);
                    },
                );
            }
            (op, inputs) => unreachable!("{op:?} with {} inputs", inputs.family()),
        }
        Ok(())
    }

    fn output(&self) -> Result<Vec<f32>, RunError> {
        Ok(self.out.clone())
    }
}
