//! Backward passes in f64: the ground truth training kernels are checked against, each
//! derived by hand and checked here against central finite differences of its forward pass.
//! Layouts follow the forward references (row-major, `(rows, cols)`); every function returns
//! the gradients of a scalar loss given the gradient `dy` of its output. Depends on nothing
//! else of ours.

/// `y = x w`, x (m, k), w (k, n): `dx = dy w^T`, `dw = x^T dy`.
pub fn matmul_backward(x: &[f64], w: &[f64], dy: &[f64], m: usize, k: usize, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; m * k];
    let mut dw = vec![0.0; k * n];
    for i in 0..m {
        for j in 0..n {
            let g = dy[i * n + j];
            for p in 0..k {
                dx[i * k + p] += g * w[p * n + j];
                dw[p * n + j] += x[i * k + p] * g;
            }
        }
    }
    (dx, dw)
}

/// LayerNorm rows with scale `gamma` and shift: `(dx, dgamma, dbeta)`. With `xh = (x - mean)
/// * inv`, `dx = inv (g - mean(g) - xh mean(g xh))` where `g = dy gamma`.
pub fn layernorm_backward(
    x: &[f64],
    gamma: &[f64],
    dy: &[f64],
    rows: usize,
    cols: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut dx, mut dg, mut db) = (vec![0.0; rows * cols], vec![0.0; cols], vec![0.0; cols]);
    let n = cols as f64;
    for r in 0..rows {
        let xs = &x[r * cols..][..cols];
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let inv = 1.0 / (var + eps).sqrt();
        let xh: Vec<f64> = xs.iter().map(|v| (v - mean) * inv).collect();
        let g: Vec<f64> = (0..cols).map(|c| dy[r * cols + c] * gamma[c]).collect();
        let mg = g.iter().sum::<f64>() / n;
        let mgx = g.iter().zip(&xh).map(|(a, b)| a * b).sum::<f64>() / n;
        for c in 0..cols {
            dx[r * cols + c] = inv * (g[c] - mg - xh[c] * mgx);
            dg[c] += dy[r * cols + c] * xh[c];
            db[c] += dy[r * cols + c];
        }
    }
    (dx, dg, db)
}

/// RMSNorm rows: `(dx, dgamma)`. With `inv = 1 / rms`, `dx = inv (g - x inv^2 mean(g x))`.
pub fn rmsnorm_backward(
    x: &[f64],
    gamma: &[f64],
    dy: &[f64],
    rows: usize,
    cols: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut dx, mut dg) = (vec![0.0; rows * cols], vec![0.0; cols]);
    let n = cols as f64;
    for r in 0..rows {
        let xs = &x[r * cols..][..cols];
        let inv = 1.0 / (xs.iter().map(|v| v * v).sum::<f64>() / n + eps).sqrt();
        let g: Vec<f64> = (0..cols).map(|c| dy[r * cols + c] * gamma[c]).collect();
        let mgx = g.iter().zip(xs).map(|(a, b)| a * b).sum::<f64>() / n;
        for c in 0..cols {
            dx[r * cols + c] = inv * (g[c] - xs[c] * inv * inv * mgx);
            dg[c] += dy[r * cols + c] * xs[c] * inv;
        }
    }
    (dx, dg)
}

/// Row softmax from its output `y`: `dx = y (dy - sum(dy y))`.
pub fn softmax_backward(y: &[f64], dy: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut dx = vec![0.0; rows * cols];
    for r in 0..rows {
        let (ys, ds) = (&y[r * cols..][..cols], &dy[r * cols..][..cols]);
        let dot: f64 = ys.iter().zip(ds).map(|(a, b)| a * b).sum();
        for c in 0..cols {
            dx[r * cols + c] = ys[c] * (ds[c] - dot);
        }
    }
    dx
}

/// GELU, exact (`erf`) or tanh form: `dx = dy gelu'(x)`.
pub fn gelu_backward(x: &[f64], dy: &[f64], erf: bool) -> Vec<f64> {
    x.iter()
        .zip(dy)
        .map(|(&v, &g)| {
            let d = if erf {
                let cdf = 0.5 * (1.0 + erf_f64(v / std::f64::consts::SQRT_2));
                let pdf = (-0.5 * v * v).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + v * pdf
            } else {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                let u = c * (v + 0.044715 * v * v * v);
                let t = u.tanh();
                0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * v * v)
            };
            g * d
        })
        .collect()
}

/// SwiGLU `y = silu(gate) up`: `(dgate, dup)`, with `silu'(a) = s (1 + a (1 - s))`, `s = sigmoid(a)`.
pub fn swiglu_backward(gate: &[f64], up: &[f64], dy: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut dg = vec![0.0; gate.len()];
    let mut du = vec![0.0; up.len()];
    for i in 0..gate.len() {
        let a = gate[i];
        let s = 1.0 / (1.0 + (-a).exp());
        dg[i] = dy[i] * up[i] * s * (1.0 + a * (1.0 - s));
        du[i] = dy[i] * a * s;
    }
    (dg, du)
}

/// Mean cross-entropy of `rows` rows of logits against target ids: `(loss, dlogits)`, with
/// `dlogits = (softmax - onehot) / rows`.
pub fn cross_entropy(logits: &[f64], targets: &[u32], rows: usize, vocab: usize) -> (f64, Vec<f64>) {
    let mut loss = 0.0;
    let mut d = vec![0.0; rows * vocab];
    for r in 0..rows {
        let l = &logits[r * vocab..][..vocab];
        let m = l.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let z: f64 = l.iter().map(|v| (v - m).exp()).sum();
        let t = targets[r] as usize;
        loss += z.ln() + m - l[t];
        for c in 0..vocab {
            d[r * vocab + c] = ((l[c] - m).exp() / z - if c == t { 1.0 } else { 0.0 }) / rows as f64;
        }
    }
    (loss / rows as f64, d)
}

/// Embedding rows gathered by id: the table's gradient sums `dy` rows into their ids' rows.
pub fn embedding_backward(ids: &[u32], dy: &[f64], vocab: usize, hidden: usize) -> Vec<f64> {
    let mut dt = vec![0.0; vocab * hidden];
    for (t, &id) in ids.iter().enumerate() {
        for h in 0..hidden {
            dt[id as usize * hidden + h] += dy[t * hidden + h];
        }
    }
    dt
}

/// Causal (window-limited) attention per (batch x head) slice of `(seq, d)` rows,
/// `O = softmax(scale Q K^T + mask) V`: the gradients `(dq, dk, dv)` given `dout`, by the
/// unfused chain `dV = P^T dO`, `dP = dO V^T`, `dS = softmax'(P, dP)`, `dQ = scale dS K`,
/// `dK = scale dS^T Q`. Query i sees keys `i + 1 - window ..= i`.
pub fn attention_backward(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    dout: &[f64],
    (heads, seq, d, window): (usize, usize, usize, usize),
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let scale = 1.0 / (d as f64).sqrt();
    let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
    let row = |h: usize, i: usize| -> std::ops::Range<usize> { (h * seq + i) * d..(h * seq + i + 1) * d };
    let dotr = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    for h in 0..heads {
        for i in 0..seq {
            let keys = i.saturating_sub(window - 1)..=i;
            let s: Vec<f64> = keys.clone().map(|j| scale * dotr(&q[row(h, i)], &k[row(h, j)])).collect();
            let m = s.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
            let p: Vec<f64> = s.iter().map(|x| (x - m).exp() / z).collect();
            let dp: Vec<f64> = keys.clone().map(|j| dotr(&dout[row(h, i)], &v[row(h, j)])).collect();
            let dsum: f64 = p.iter().zip(&dp).map(|(a, b)| a * b).sum();
            for (n, j) in keys.enumerate() {
                let ds = p[n] * (dp[n] - dsum);
                for c in 0..d {
                    dv[row(h, j).start + c] += p[n] * dout[row(h, i).start + c];
                    dq[row(h, i).start + c] += scale * ds * k[row(h, j).start + c];
                    dk[row(h, j).start + c] += scale * ds * q[row(h, i).start + c];
                }
            }
        }
    }
    (dq, dk, dv)
}

/// AdamW's hyper-parameters (decoupled weight decay, bias-corrected moments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamW {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    /// PyTorch's defaults with weight decay 0.01.
    pub const DEFAULT: AdamW = AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };

    /// Step `t` (from 1) in place: moments `m`, `v`, then `p -= lr (m_hat / (sqrt(v_hat) + eps)
    /// + wd p)`.
    pub fn step(&self, t: u32, p: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        let (c1, c2) = (1.0 - self.beta1.powi(t as i32), 1.0 - self.beta2.powi(t as i32));
        for i in 0..p.len() {
            m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g[i];
            v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g[i] * g[i];
            let update = (m[i] / c1) / ((v[i] / c2).sqrt() + self.eps);
            p[i] -= self.lr * (update + self.weight_decay * p[i]);
        }
    }
}

/// erf to f64 precision (Abramowitz-Stegun 7.1.26 is 1e-7; this is the series/continued
/// fraction pair, accurate to ~1e-15, enough for finite differences at h = 1e-5).
fn erf_f64(x: f64) -> f64 {
    let a = x.abs();
    let r = if a < 2.5 {
        // Maclaurin series: 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)).
        let (mut term, mut sum, x2) = (a, a, a * a);
        for n in 1..60 {
            term *= -x2 / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Continued fraction for erfc.
        let mut f = 0.0;
        for n in (1..60).rev() {
            f = n as f64 / 2.0 / (a + f);
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
    };
    r.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic stream in [-1, 1).
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Central differences of `loss` at `x`, element by element.
    fn numeric(x: &[f64], loss: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        let h = 1e-5;
        (0..x.len())
            .map(|i| {
                let (mut a, mut b) = (x.to_vec(), x.to_vec());
                a[i] += h;
                b[i] -= h;
                (loss(&a) - loss(&b)) / (2.0 * h)
            })
            .collect()
    }

    fn close(name: &str, analytic: &[f64], numeric: &[f64]) {
        assert_eq!(analytic.len(), numeric.len(), "{name}");
        for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
            assert!((a - n).abs() <= 1e-6 + 1e-5 * n.abs(), "{name}[{i}]: analytic {a}, numeric {n}");
        }
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn matmul(x: &[f64], w: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        (0..m * n).map(|e| (0..k).map(|p| x[e / n * k + p] * w[p * n + e % n]).sum()).collect()
    }

    fn layernorm(x: &[f64], g: &[f64], b: &[f64], rows: usize, cols: usize, rms: bool) -> Vec<f64> {
        let mut y = vec![0.0; rows * cols];
        for r in 0..rows {
            let xs = &x[r * cols..][..cols];
            let n = cols as f64;
            let mean = if rms { 0.0 } else { xs.iter().sum::<f64>() / n };
            let var = xs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            let inv = 1.0 / (var + 1e-5).sqrt();
            for c in 0..cols {
                y[r * cols + c] = (xs[c] - mean) * inv * g[c] + if rms { 0.0 } else { b[c] };
            }
        }
        y
    }

    fn softmax(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
        let mut y = vec![0.0; rows * cols];
        for r in 0..rows {
            let xs = &x[r * cols..][..cols];
            let m = xs.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let z: f64 = xs.iter().map(|v| (v - m).exp()).sum();
            for c in 0..cols {
                y[r * cols + c] = (xs[c] - m).exp() / z;
            }
        }
        y
    }

    fn gelu(x: &[f64], erf: bool) -> Vec<f64> {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        x.iter()
            .map(|&v| {
                if erf {
                    0.5 * v * (1.0 + erf_f64(v / std::f64::consts::SQRT_2))
                } else {
                    0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
                }
            })
            .collect()
    }

    #[test]
    fn matmul_gradients_match_finite_differences() {
        let (m, k, n) = (3, 4, 5);
        let (x, w, dy) = (values(m * k, 1), values(k * n, 2), values(m * n, 3));
        let (dx, dw) = matmul_backward(&x, &w, &dy, m, k, n);
        close("dx", &dx, &numeric(&x, |x| dot(&matmul(x, &w, m, k, n), &dy)));
        close("dw", &dw, &numeric(&w, |w| dot(&matmul(&x, w, m, k, n), &dy)));
    }

    #[test]
    fn norm_gradients_match_finite_differences() {
        let (rows, cols) = (3, 7);
        let (x, g, b, dy) = (values(rows * cols, 4), values(cols, 5), values(cols, 6), values(rows * cols, 7));
        let (dx, dg, db) = layernorm_backward(&x, &g, &dy, rows, cols, 1e-5);
        close("ln dx", &dx, &numeric(&x, |x| dot(&layernorm(x, &g, &b, rows, cols, false), &dy)));
        close("ln dgamma", &dg, &numeric(&g, |g| dot(&layernorm(&x, g, &b, rows, cols, false), &dy)));
        close("ln dbeta", &db, &numeric(&b, |b| dot(&layernorm(&x, &g, b, rows, cols, false), &dy)));
        let (dx, dg) = rmsnorm_backward(&x, &g, &dy, rows, cols, 1e-5);
        close("rms dx", &dx, &numeric(&x, |x| dot(&layernorm(x, &g, &b, rows, cols, true), &dy)));
        close("rms dgamma", &dg, &numeric(&g, |g| dot(&layernorm(&x, g, &b, rows, cols, true), &dy)));
    }

    #[test]
    fn activation_gradients_match_finite_differences() {
        let (rows, cols) = (2, 9);
        let (x, dy) = (values(rows * cols, 8).iter().map(|v| 3.0 * v).collect::<Vec<_>>(), values(rows * cols, 9));
        let y = softmax(&x, rows, cols);
        close("softmax", &softmax_backward(&y, &dy, rows, cols), &numeric(&x, |x| dot(&softmax(x, rows, cols), &dy)));
        for erf in [false, true] {
            close("gelu", &gelu_backward(&x, &dy, erf), &numeric(&x, |x| dot(&gelu(x, erf), &dy)));
        }
        let up = values(rows * cols, 10);
        let swiglu =
            |g: &[f64], u: &[f64]| -> Vec<f64> { g.iter().zip(u).map(|(a, b)| a / (1.0 + (-a).exp()) * b).collect() };
        let (dg, du) = swiglu_backward(&x, &up, &dy);
        close("swiglu gate", &dg, &numeric(&x, |g| dot(&swiglu(g, &up), &dy)));
        close("swiglu up", &du, &numeric(&up, |u| dot(&swiglu(&x, u), &dy)));
    }

    #[test]
    fn cross_entropy_and_embedding_gradients_match_finite_differences() {
        let (rows, vocab) = (3, 6);
        let logits: Vec<f64> = values(rows * vocab, 11).iter().map(|v| 4.0 * v).collect();
        let targets = [2u32, 5, 0];
        let (loss, d) = cross_entropy(&logits, &targets, rows, vocab);
        assert!(loss > 0.0);
        close("cross-entropy", &d, &numeric(&logits, |l| cross_entropy(l, &targets, rows, vocab).0));
        // Repeated ids accumulate.
        let (ids, hidden) = ([1u32, 3, 1], 4);
        let (table, dy) = (values(5 * hidden, 12), values(ids.len() * hidden, 13));
        let gather = |t: &[f64]| -> f64 {
            ids.iter()
                .enumerate()
                .map(|(i, &id)| dot(&t[id as usize * hidden..][..hidden], &dy[i * hidden..][..hidden]))
                .sum()
        };
        close("embedding", &embedding_backward(&ids, &dy, 5, hidden), &numeric(&table, gather));
    }

    fn attention(q: &[f64], k: &[f64], v: &[f64], (heads, seq, d, window): (usize, usize, usize, usize)) -> Vec<f64> {
        let scale = 1.0 / (d as f64).sqrt();
        let mut o = vec![0.0; q.len()];
        for h in 0..heads {
            for i in 0..seq {
                let keys: Vec<usize> = (i.saturating_sub(window - 1)..=i).collect();
                let qi = &q[(h * seq + i) * d..][..d];
                let s: Vec<f64> = keys.iter().map(|&j| scale * dot(qi, &k[(h * seq + j) * d..][..d])).collect();
                let p = softmax(&s, 1, s.len());
                for (n, &j) in keys.iter().enumerate() {
                    for c in 0..d {
                        o[(h * seq + i) * d + c] += p[n] * v[(h * seq + j) * d + c];
                    }
                }
            }
        }
        o
    }

    #[test]
    fn attention_gradients_match_finite_differences() {
        for shape in [(2, 5, 4, 5), (1, 6, 4, 3)] {
            let n = shape.0 * shape.1 * shape.2;
            let (q, k, v, dout) = (values(n, 14), values(n, 15), values(n, 16), values(n, 17));
            let (dq, dk, dv) = attention_backward(&q, &k, &v, &dout, shape);
            close("attention dq", &dq, &numeric(&q, |q| dot(&attention(q, &k, &v, shape), &dout)));
            close("attention dk", &dk, &numeric(&k, |k| dot(&attention(&q, k, &v, shape), &dout)));
            close("attention dv", &dv, &numeric(&v, |v| dot(&attention(&q, &k, v, shape), &dout)));
        }
    }

    /// AdamW on a quadratic bowl walks to its minimum; the first step moves every parameter by
    /// about lr against its gradient's sign (the bias-corrected moments cancel).
    #[test]
    fn adamw_descends_and_its_first_step_is_lr_sized() {
        let opt = AdamW { weight_decay: 0.0, lr: 0.05, ..AdamW::DEFAULT };
        let target = [1.0, -2.0, 0.5];
        let mut p = vec![0.0; 3];
        let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
        let loss = |p: &[f64]| p.iter().zip(&target).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
        let before = loss(&p);
        for t in 1..=200 {
            let g: Vec<f64> = p.iter().zip(&target).map(|(a, b)| 2.0 * (a - b)).collect();
            if t == 1 {
                let mut q = p.clone();
                opt.step(1, &mut q, &g, &mut m.clone(), &mut v.clone());
                for (i, (a, b)) in q.iter().zip(&p).enumerate() {
                    assert!(((a - b).abs() - opt.lr).abs() < 1e-6, "{i}: {a} - {b}");
                }
            }
            opt.step(t, &mut p, &g, &mut m, &mut v);
        }
        assert!(loss(&p) < 1e-3 * before, "{p:?}");
    }

    #[test]
    fn erf_is_accurate() {
        for (x, want) in
            [(0.5, 0.520_499_877_813_046_5), (1.0, 0.842_700_792_949_714_9), (3.0, 0.999_977_909_503_001_4)]
        {
            assert!((erf_f64(x) - want).abs() < 1e-13 && (erf_f64(-x) + want).abs() < 1e-13, "{x}");
        }
    }
}
