//! Block-quantised weights as web inference ships them (the q8_0 / q4_0 block shape: 32
//! weights per block along the reduction dimension, one f16 scale each), packed for the GPU:
//! quantisation, packing and dequantisation, shared by the kernels' plans, their f64
//! references and native-cpu. Depends on nothing else of ours.

/// Weights per block, each block with one scale.
pub const BLOCK: usize = 32;

/// A block-quantised format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantFormat {
    /// 8-bit: `w = d q`, `q` in -127..=127, `d = max|w| / 127` (q8_0).
    Q8,
    /// 4-bit: `w = d (q - 8)`, `q` in 0..=15, `d = max|w| / 7` (q4_0's block; symmetric scale).
    Q4,
}

impl QuantFormat {
    pub fn name(self) -> &'static str {
        match self {
            QuantFormat::Q8 => "q8",
            QuantFormat::Q4 => "q4",
        }
    }

    /// Bits per weight value (the scales come on top: 16 per block).
    pub fn bits(self) -> usize {
        match self {
            QuantFormat::Q8 => 8,
            QuantFormat::Q4 => 4,
        }
    }

    /// u32 words of packed values per block.
    pub fn words_per_block(self) -> usize {
        BLOCK * self.bits() / 32
    }

    /// Bytes of one row of `k` weights: packed values plus one f16 scale per block.
    pub fn row_bytes(self, k: usize) -> usize {
        k / BLOCK * (4 * self.words_per_block() + 2)
    }
}

/// Rows of weights quantised along their length: `words` (rows, k / 32 blocks, packed
/// values) and `scales` (rows, k / 32) as f16 bits.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantized {
    pub format: QuantFormat,
    pub rows: usize,
    pub k: usize,
    pub words: Vec<u32>,
    pub scales: Vec<u16>,
}

/// Quantises `rows` rows of `k` weights (row-major; `k` a multiple of 32). Values are packed
/// in element order: for q8 four per word (element e of a word at bits 8e), for q4 eight per
/// word (bits 4e), so a shader reads a block as consecutive words.
pub fn quantize(w: &[f32], rows: usize, k: usize, format: QuantFormat) -> Quantized {
    assert!(k.is_multiple_of(BLOCK) && w.len() == rows * k, "quantize: {rows} x {k} with k % 32 == 0");
    let blocks = k / BLOCK;
    let wpb = format.words_per_block();
    let mut words = vec![0u32; rows * blocks * wpb];
    let mut scales = vec![0u16; rows * blocks];
    for r in 0..rows {
        for b in 0..blocks {
            let vals = &w[r * k + b * BLOCK..][..BLOCK];
            let amax = vals.iter().fold(0f32, |m, v| m.max(v.abs()));
            let qmax = match format {
                QuantFormat::Q8 => 127.0,
                QuantFormat::Q4 => 7.0,
            };
            // The stored scale is the f16 one; quantise against it, so dequantising with it
            // reproduces the chosen levels.
            let d = half::f16::from_f32(amax / qmax);
            let (df, s) = (d.to_f32(), r * blocks + b);
            scales[s] = d.to_bits();
            let inv = if df > 0.0 { 1.0 / df } else { 0.0 };
            for (e, &v) in vals.iter().enumerate() {
                let word = &mut words[s * wpb + e * format.bits() / 32];
                let shift = (e * format.bits()) % 32;
                match format {
                    QuantFormat::Q8 => {
                        let q = (v * inv).round().clamp(-127.0, 127.0) as i32;
                        *word |= ((q as u32) & 0xff) << shift;
                    }
                    QuantFormat::Q4 => {
                        let q = ((v * inv).round().clamp(-8.0, 7.0) as i32 + 8) as u32;
                        *word |= (q & 0xf) << shift;
                    }
                }
            }
        }
    }
    Quantized { format, rows, k, words, scales }
}

impl Quantized {
    /// The rows as a graph holds them: packed levels and scales packed in pairs
    /// ([`Quantized::packed_scales`]).
    pub fn from_packed(format: QuantFormat, rows: usize, k: usize, words: &[u32], packed_scales: &[u32]) -> Quantized {
        let n = rows * (k / BLOCK);
        let scales = (0..n).map(|s| (packed_scales[s / 2] >> (16 * (s % 2))) as u16).collect();
        Quantized { format, rows, k, words: words.to_vec(), scales }
    }

    /// The value level (before the scale) of element `e` of row `r`.
    pub fn level(&self, r: usize, e: usize) -> i32 {
        let (b, i) = (e / BLOCK, e % BLOCK);
        let wpb = self.format.words_per_block();
        let bits = self.format.bits();
        let word = self.words[(r * (self.k / BLOCK) + b) * wpb + i * bits / 32];
        let raw = (word >> ((i * bits) % 32)) & ((1 << bits) - 1);
        match self.format {
            QuantFormat::Q8 => raw as u8 as i8 as i32,
            QuantFormat::Q4 => raw as i32 - 8,
        }
    }

    /// The scale of the block holding element `e` of row `r`.
    pub fn scale(&self, r: usize, e: usize) -> f32 {
        half::f16::from_bits(self.scales[r * (self.k / BLOCK) + e / BLOCK]).to_f32()
    }

    /// Every weight as the kernels see it: `scale * level`, (rows, k) row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        (0..self.rows)
            .flat_map(|r| (0..self.k).map(move |e| (r, e)))
            .map(|(r, e)| self.scale(r, e) * self.level(r, e) as f32)
            .collect()
    }

    /// The scales as the GPU binds them: f16 pairs packed into u32s (`unpack2x16float`), so
    /// the shaders need no `shader-f16`.
    pub fn packed_scales(&self) -> Vec<u32> {
        self.scales.chunks(2).map(|c| u32::from(c[0]) | (u32::from(c.get(1).copied().unwrap_or(0)) << 16)).collect()
    }

    /// Bytes the quantised rows occupy (values and scales).
    pub fn bytes(&self) -> usize {
        self.rows * self.format.row_bytes(self.k)
    }
}

/// Activations quantised for int8 x int8 products as the kernels quantise them on the device:
/// blocks of 32 along `k`, each with an f32 scale `d = max|x| / 127` and levels
/// `round_ties_even(x / d)` (WGSL's `round`), packed four to a word like q8 weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Rows {
    pub rows: usize,
    pub k: usize,
    pub words: Vec<u32>,
    pub scales: Vec<f32>,
}

pub fn quantize_activations(x: &[f32], rows: usize, k: usize) -> Int8Rows {
    assert!(k.is_multiple_of(BLOCK) && x.len() == rows * k, "quantize_activations: {rows} x {k} with k % 32 == 0");
    let blocks = rows * k / BLOCK;
    let mut words = vec![0u32; blocks * BLOCK / 4];
    let mut scales = vec![0f32; blocks];
    let mut levels = [0i8; BLOCK];
    for (b, vals) in x.chunks_exact(BLOCK).enumerate() {
        scales[b] = quantize_block(vals, &mut levels);
        for (e, &q) in levels.iter().enumerate() {
            words[b * BLOCK / 4 + e / 4] |= u32::from(q as u8) << (8 * (e % 4));
        }
    }
    Int8Rows { rows, k, words, scales }
}

/// One block of activations to int8 levels; returns its scale. Native backends call this so
/// their levels are the device's, bit for bit.
pub fn quantize_block(vals: &[f32], levels: &mut [i8]) -> f32 {
    let d = vals.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
    for (l, &v) in levels.iter_mut().zip(vals) {
        *l = if d > 0.0 { (v / d).round_ties_even().clamp(-127.0, 127.0) as i8 } else { 0 };
    }
    d
}

impl Int8Rows {
    /// Every activation as the products see it: `scale * level`, (rows, k) row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        (0..self.rows * self.k)
            .map(|e| {
                let level = (self.words[e / 4] >> (8 * (e % 4))) as u8 as i8;
                self.scales[e / BLOCK] * f32::from(level)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_round_trip_within_half_a_step_of_their_block() {
        let x: Vec<f32> = (0..3 * 64).map(|i| ((i * 53 % 97) as f32 - 48.0) / 11.0).collect();
        let q = quantize_activations(&x, 3, 64);
        let back = q.dequantize();
        for (b, block) in x.chunks(BLOCK).enumerate() {
            let d = q.scales[b];
            assert_eq!(d, block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0);
            for (e, &v) in block.iter().enumerate() {
                assert!((back[b * BLOCK + e] - v).abs() <= d * 0.5 + 1e-6, "block {b} element {e}");
            }
        }
        // The block's largest magnitude is exactly +-127 levels.
        assert!(back.iter().zip(&x).any(|(a, b)| a == b));
        assert_eq!(quantize_activations(&[0.0; 32], 1, 32).dequantize(), vec![0.0; 32]);
    }

    #[test]
    fn levels_round_trip_within_half_a_step() {
        let w: Vec<f32> = (0..4 * 64).map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0).collect();
        for f in [QuantFormat::Q8, QuantFormat::Q4] {
            let q = quantize(&w, 4, 64, f);
            assert_eq!(q.words.len(), 4 * 2 * f.words_per_block());
            let d = q.dequantize();
            for (i, (a, b)) in w.iter().zip(&d).enumerate() {
                let step = q.scale(i / 64, i % 64);
                // Half a level of rounding, plus the f16 scale's own rounding times the level.
                assert!((a - b).abs() <= 0.5 * step + 1e-3 * a.abs() + 1e-6, "{f:?} {i}: {a} vs {b} (step {step})");
            }
        }
        // Signs survive packing (q8 is two's complement in its byte).
        let q = quantize(&[-1.0; 32], 1, 32, QuantFormat::Q8);
        assert_eq!(q.level(0, 5), -127);
        let q = quantize(&[-1.0; 32], 1, 32, QuantFormat::Q4);
        assert_eq!(q.level(0, 31), -7);
    }
}
