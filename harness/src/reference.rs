//! CPU reference implementations: the ground truth every backend is checked against. They are
//! written for clarity, not speed, and accumulate in f64 wherever a long sum would otherwise
//! carry f32 rounding into the comparison. A fast CPU backend is separate and checked like any
//! other.

use std::f64::consts::PI;

/// C[b] = A[b] (m x k) * B[b] (k x n), row-major, batched.
pub fn matmul(a: &[f32], b: &[f32], m: usize, n: usize, k: usize, batch: usize) -> Vec<f32> {
    let mut c = vec![0f32; batch * m * n];
    let mut row = vec![0f64; n];
    for bi in 0..batch {
        let (a, b) = (&a[bi * m * k..][..m * k], &b[bi * k * n..][..k * n]);
        for i in 0..m {
            row.fill(0.0);
            // i-k-j order walks B row by row, so the reference stays usable at 1024^3.
            for kk in 0..k {
                let av = f64::from(a[i * k + kk]);
                for (r, &bv) in row.iter_mut().zip(&b[kk * n..][..n]) {
                    *r += av * f64::from(bv);
                }
            }
            for (o, r) in c[bi * m * n + i * n..][..n].iter_mut().zip(&row) {
                *o = *r as f32;
            }
        }
    }
    c
}

pub fn softmax_rows(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows * cols];
    for r in 0..rows {
        let xs = &x[r * cols..][..cols];
        let m = xs.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let s: f64 = xs.iter().map(|&v| (f64::from(v) - m).exp()).sum();
        for (o, &v) in y[r * cols..][..cols].iter_mut().zip(xs) {
            *o = ((f64::from(v) - m).exp() / s) as f32;
        }
    }
    y
}

pub fn gelu_tanh(x: &[f32]) -> Vec<f32> {
    let c = (2.0 / PI).sqrt();
    x.iter()
        .map(|&v| {
            let v = f64::from(v);
            (0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())) as f32
        })
        .collect()
}

/// `x * sigmoid(x)`, in f64.
pub fn silu(x: &[f32]) -> Vec<f32> {
    x.iter().map(|&v| silu_f64(f64::from(v)) as f32).collect()
}

/// The RoPE cos/sin table for positions `offset..offset + tokens`: (tokens, head_dim / 2) each,
/// angle `pos * theta^(-2i / head_dim)` in f64.
pub fn rope_table(tokens: usize, head_dim: usize, theta: f64, offset: usize) -> (Vec<f32>, Vec<f32>) {
    let half = head_dim / 2;
    let (mut c, mut s) = (Vec::with_capacity(tokens * half), Vec::with_capacity(tokens * half));
    for t in 0..tokens {
        for i in 0..half {
            let ang = (offset + t) as f64 * theta.powf(-2.0 * i as f64 / head_dim as f64);
            c.push(ang.cos() as f32);
            s.push(ang.sin() as f32);
        }
    }
    (c, s)
}

/// RoPE, rotate-half convention, over (tokens, heads, head_dim) with the table's rows per token.
pub fn rope(x: &[f32], cos: &[f32], sin: &[f32], heads: usize, head_dim: usize) -> Vec<f32> {
    let half = head_dim / 2;
    let mut y = vec![0.0; x.len()];
    for (row, (xr, yr)) in x.chunks(head_dim).zip(y.chunks_mut(head_dim)).enumerate() {
        let t = row / heads;
        for i in 0..half {
            let (c, s) = (f64::from(cos[t * half + i]), f64::from(sin[t * half + i]));
            let (a, b) = (f64::from(xr[i]), f64::from(xr[i + half]));
            yr[i] = (a * c - b * s) as f32;
            yr[i + half] = (b * c + a * s) as f32;
        }
    }
    y
}

/// `silu(gate) * up`, elementwise, in f64.
pub fn swiglu(gate: &[f32], up: &[f32]) -> Vec<f32> {
    gate.iter().zip(up).map(|(&g, &u)| (silu_f64(f64::from(g)) * f64::from(u)) as f32).collect()
}

fn silu_f64(v: f64) -> f64 {
    v / (1.0 + (-v).exp())
}

pub fn gelu_erf(x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|&v| {
            let v = f64::from(v);
            (0.5 * v * (1.0 + libm::erf(v / std::f64::consts::SQRT_2))) as f32
        })
        .collect()
}

pub fn layernorm(x: &[f32], gamma: &[f32], beta: &[f32], rows: usize, cols: usize, eps: f32) -> Vec<f32> {
    let mut y = vec![0f32; rows * cols];
    for r in 0..rows {
        let xs = &x[r * cols..][..cols];
        let mean = xs.iter().map(|&v| f64::from(v)).sum::<f64>() / cols as f64;
        let var = xs.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / cols as f64;
        let inv = 1.0 / (var + f64::from(eps)).sqrt();
        for (i, o) in y[r * cols..][..cols].iter_mut().enumerate() {
            *o = ((f64::from(xs[i]) - mean) * inv * f64::from(gamma[i]) + f64::from(beta[i])) as f32;
        }
    }
    y
}

pub fn rmsnorm(x: &[f32], gamma: &[f32], rows: usize, cols: usize, eps: f32) -> Vec<f32> {
    let mut y = vec![0f32; rows * cols];
    for r in 0..rows {
        let xs = &x[r * cols..][..cols];
        let ms = xs.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / cols as f64;
        let inv = 1.0 / (ms + f64::from(eps)).sqrt();
        for (i, o) in y[r * cols..][..cols].iter_mut().enumerate() {
            *o = (f64::from(xs[i]) * inv * f64::from(gamma[i])) as f32;
        }
    }
    y
}

/// Shape of a multi-head attention problem; tensors are (batch, heads, seq_len, head_dim).
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub batch: usize,
    pub heads: usize,
    pub seq_len: usize,
    pub head_dim: usize,
    pub scale: f32,
    /// Query i attends keys max(0, i + 1 - window) ..= i; `seq_len` gives plain causal attention.
    pub window: usize,
}

/// Causal (optionally sliding-window) scaled-dot-product attention.
pub fn attention(q: &[f32], k: &[f32], v: &[f32], s: AttentionShape) -> Vec<f32> {
    let (n, d) = (s.seq_len, s.head_dim);
    let mut out = vec![0f32; s.batch * s.heads * n * d];
    let mut scores = vec![0f64; n];
    let mut acc = vec![0f64; d];
    for bh in 0..s.batch * s.heads {
        let base = bh * n * d;
        for i in 0..n {
            let lo = (i + 1).saturating_sub(s.window);
            let qi = &q[base + i * d..][..d];
            let mut m = f64::NEG_INFINITY;
            for j in lo..=i {
                let kj = &k[base + j * d..][..d];
                let dot: f64 = qi.iter().zip(kj).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
                scores[j] = dot * f64::from(s.scale);
                m = m.max(scores[j]);
            }
            acc.fill(0.0);
            let mut sum = 0.0;
            for j in lo..=i {
                let p = (scores[j] - m).exp();
                sum += p;
                for (a, &vv) in acc.iter_mut().zip(&v[base + j * d..][..d]) {
                    *a += p * f64::from(vv);
                }
            }
            for (o, a) in out[base + i * d..][..d].iter_mut().zip(&acc) {
                *o = (a / sum) as f32;
            }
        }
    }
    out
}

/// One query against a list of keys and values (each `d` long): softmax(q.k * scale) v.
pub fn attend_one(q: &[f32], keys: &[&[f32]], values: &[&[f32]], scale: f32) -> Vec<f32> {
    let scores: Vec<f64> = keys
        .iter()
        .map(|k| q.iter().zip(*k).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>() * f64::from(scale))
        .collect();
    let m = scores.iter().fold(f64::NEG_INFINITY, |m, &s| m.max(s));
    let mut acc = vec![0f64; q.len()];
    let mut sum = 0.0;
    for (s, v) in scores.iter().zip(values) {
        let p = (s - m).exp();
        sum += p;
        for (a, &vv) in acc.iter_mut().zip(*v) {
            *a += p * f64::from(vv);
        }
    }
    acc.iter().map(|a| (a / sum) as f32).collect()
}

/// Log-mel front end parameters (Whisper: 16 kHz, 25 ms Hann window, 10 ms hop, 80 mels).
#[derive(Clone, Copy, Debug)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub win_length: usize,
    pub hop: usize,
    pub n_mels: usize,
}

impl MelConfig {
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Whisper drops the last centred frame: n_samples / hop frames.
    pub fn n_frames(&self, n_samples: usize) -> usize {
        n_samples / self.hop
    }

    /// The n_fft-long analysis window: a periodic Hann of win_length, centred, zero elsewhere.
    pub fn window(&self) -> Vec<f64> {
        let off = (self.n_fft - self.win_length) / 2;
        (0..self.n_fft)
            .map(|p| {
                if p < off || p >= off + self.win_length {
                    0.0
                } else {
                    let t = (p - off) as f64 / self.win_length as f64;
                    0.5 - 0.5 * (2.0 * PI * t).cos()
                }
            })
            .collect()
    }

    /// Slaney-style mel filterbank (librosa's default, which Whisper uses): (n_mels, n_bins).
    pub fn filterbank(&self) -> Vec<f64> {
        fn hz_to_mel(f: f64) -> f64 {
            let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
            let min_log_mel = min_log_hz / f_sp;
            let logstep = (6.4f64).ln() / 27.0;
            if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp }
        }
        fn mel_to_hz(m: f64) -> f64 {
            let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
            let min_log_mel = min_log_hz / f_sp;
            let logstep = (6.4f64).ln() / 27.0;
            if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m }
        }
        let nb = self.n_bins();
        let sr = f64::from(self.sample_rate);
        let fft_freqs: Vec<f64> = (0..nb).map(|i| i as f64 * sr / self.n_fft as f64).collect();
        let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
        let pts: Vec<f64> =
            (0..self.n_mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (self.n_mels + 1) as f64)).collect();
        let mut w = vec![0f64; self.n_mels * nb];
        for m in 0..self.n_mels {
            let (l, c, r) = (pts[m], pts[m + 1], pts[m + 2]);
            let enorm = 2.0 / (r - l);
            for (k, &f) in fft_freqs.iter().enumerate() {
                let up = (f - l) / (c - l);
                let down = (r - f) / (r - c);
                w[m * nb + k] = up.min(down).max(0.0) * enorm;
            }
        }
        w
    }
}

/// Reflect-padded index, as torch.stft(center=True) pads: -1 -> 1, n -> n - 2.
pub fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let j = if i < 0 { -i } else { i };
    let j = if j >= n { 2 * n - 2 - j } else { j };
    j.clamp(0, n - 1) as usize
}

/// Log10 mel spectrogram, (n_mels, n_frames), by direct DFT in f64.
/// 1-D convolution, zero padding `kernel / 2`, bias per output channel, f64 accumulation:
/// x is `c_in` rows of `length` samples `in_stride` apart, w is (c_out, c_in, kernel); the
/// result is (c_out, out_len).
#[allow(clippy::too_many_arguments, reason = "a convolution's shape, as PyTorch's Conv1d takes it")]
pub fn conv1d(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    c_in: usize,
    c_out: usize,
    length: usize,
    in_stride: usize,
    kernel: usize,
    stride: usize,
) -> Vec<f32> {
    let pad = kernel / 2;
    let out_len = (length + 2 * pad).saturating_sub(kernel) / stride + 1;
    let mut y = vec![0f32; c_out * out_len];
    for o in 0..c_out {
        for t in 0..out_len {
            let mut acc = f64::from(b[o]);
            for c in 0..c_in {
                for j in 0..kernel {
                    let s = (t * stride + j) as isize - pad as isize;
                    if (0..length as isize).contains(&s) {
                        acc += f64::from(w[(o * c_in + c) * kernel + j]) * f64::from(x[c * in_stride + s as usize]);
                    }
                }
            }
            y[o * out_len + t] = acc as f32;
        }
    }
    y
}

pub fn logmel(pcm: &[f32], cfg: &MelConfig) -> Vec<f32> {
    let (nf, nb) = (cfg.n_frames(pcm.len()), cfg.n_bins());
    let window = cfg.window();
    let fb = cfg.filterbank();
    let n = cfg.n_fft;
    // cos/sin tables indexed by (k * p) mod n: exact twiddles without per-term trig.
    let cos: Vec<f64> = (0..n).map(|i| (2.0 * PI * i as f64 / n as f64).cos()).collect();
    let sin: Vec<f64> = (0..n).map(|i| (2.0 * PI * i as f64 / n as f64).sin()).collect();
    let mut out = vec![0f32; cfg.n_mels * nf];
    let mut frame = vec![0f64; n];
    let mut power = vec![0f64; nb];
    for f in 0..nf {
        let start = (f * cfg.hop) as isize - (n / 2) as isize;
        for (p, x) in frame.iter_mut().enumerate() {
            *x = f64::from(pcm[reflect(start + p as isize, pcm.len())]) * window[p];
        }
        for (k, pw) in power.iter_mut().enumerate() {
            let (mut re, mut im) = (0.0, 0.0);
            for (p, &x) in frame.iter().enumerate() {
                let idx = (k * p) % n;
                re += x * cos[idx];
                im -= x * sin[idx];
            }
            *pw = re * re + im * im;
        }
        for m in 0..cfg.n_mels {
            let e: f64 = fb[m * nb..][..nb].iter().zip(&power).map(|(w, p)| w * p).sum();
            out[m * nf + f] = e.max(1e-10).log10() as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One channel, taps (1, 2, 3), zero padding 1: y[t] = x[t-1] + 2 x[t] + 3 x[t+1] + bias.
    #[test]
    fn conv1d_small_by_hand() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = conv1d(&x, &[1.0, 2.0, 3.0], &[0.5], 1, 1, 4, 4, 3, 1);
        assert_eq!(y, [0.5 + 2.0 + 6.0, 0.5 + 1.0 + 4.0 + 9.0, 0.5 + 2.0 + 6.0 + 12.0, 0.5 + 3.0 + 8.0]);
        // Stride 2 keeps positions 0 and 2.
        let y2 = conv1d(&x, &[1.0, 2.0, 3.0], &[0.5], 1, 1, 4, 4, 3, 2);
        assert_eq!(y2, [y[0], y[2]]);
    }

    #[test]
    fn matmul_small_by_hand() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2x3
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0]; // 3x2
        assert_eq!(matmul(&a, &b, 2, 2, 3, 1), vec![58.0, 64.0, 139.0, 154.0]);
    }

    #[test]
    fn softmax_rows_sum_to_one_and_survive_large_inputs() {
        let y = softmax_rows(&[1000.0, 1001.0, 1002.0, 0.0, 0.0, 0.0], 2, 3);
        for r in y.chunks(3) {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert!(y[2] > y[1] && y[1] > y[0]);
    }

    #[test]
    fn gelu_forms_agree_closely_and_hit_known_values() {
        let x = [-3.0, -1.0, 0.0, 1.0, 3.0];
        let (t, e) = (gelu_tanh(&x), gelu_erf(&x));
        assert!((e[3] - 0.841_344_7).abs() < 1e-6);
        assert_eq!(e[2], 0.0);
        for (a, b) in t.iter().zip(&e) {
            assert!((a - b).abs() < 1e-3);
        }
    }

    #[test]
    fn layernorm_output_has_zero_mean_unit_variance() {
        let x: Vec<f32> = (0..64).map(|i| 100.0 + i as f32).collect();
        let y = layernorm(&x, &[1.0; 64], &[0.0; 64], 1, 64, 0.0);
        let mean: f32 = y.iter().sum::<f32>() / 64.0;
        let var: f32 = y.iter().map(|v| v * v).sum::<f32>() / 64.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
    }

    #[test]
    fn window_one_attention_copies_v() {
        let s = AttentionShape { batch: 1, heads: 1, seq_len: 3, head_dim: 2, scale: 1.0, window: 1 };
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(attention(&[0.5; 6], &[0.1; 6], &v, s), v.to_vec());
    }

    #[test]
    fn logmel_of_a_tone_peaks_in_the_right_band() {
        let cfg = MelConfig { sample_rate: 16000, n_fft: 512, win_length: 400, hop: 160, n_mels: 80 };
        let pcm: Vec<f32> = (0..4000).map(|i| (2.0 * PI * 1000.0 * i as f64 / 16000.0).sin() as f32).collect();
        let out = logmel(&pcm, &cfg);
        let nf = cfg.n_frames(pcm.len());
        let f = nf / 2;
        let best = (0..80).max_by(|&a, &b| out[a * nf + f].total_cmp(&out[b * nf + f])).unwrap();
        let fb = cfg.filterbank();
        // The 1 kHz bin is 32 at 512 points / 16 kHz; the loudest mel band must weight it.
        assert!(fb[best * cfg.n_bins() + 32] > 0.0, "band {best}");
    }

    /// RoPE's defining property, checked without our own formula twice: the score of a rotated
    /// query and key depends only on their distance, and rotation keeps each vector's length.
    #[test]
    fn rope_scores_depend_only_on_relative_position() {
        let (hd, theta) = (16, 10_000.0);
        let q: Vec<f32> = (0..hd).map(|i| (i as f32 * 0.37).sin()).collect();
        let k: Vec<f32> = (0..hd).map(|i| (i as f32 * 0.91).cos()).collect();
        let at = |v: &[f32], pos: usize| {
            let (c, s) = rope_table(1, hd, theta, pos);
            rope(v, &c, &s, 1, hd)
        };
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum::<f64>();
        let base = dot(&at(&q, 7), &at(&k, 3));
        for shift in [1, 100, 5000] {
            let moved = dot(&at(&q, 7 + shift), &at(&k, 3 + shift));
            assert!((moved - base).abs() < 1e-4, "shift {shift}: {moved} vs {base}");
        }
        assert!((dot(&at(&q, 123), &at(&q, 123)) - dot(&q, &q)).abs() < 1e-4);
        assert_eq!(at(&q, 0), q, "position 0 is no rotation");
    }
}
