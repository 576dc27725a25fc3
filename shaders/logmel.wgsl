// Whisper/Kaldi-style log-mel spectrogram of 16 kHz mono PCM, one workgroup per frame:
//   frame f is centred at sample f * hop (reflect padding at both ends, as torch.stft center=True),
//   a periodic Hann window of win_length samples sits centred in an n_fft-point frame (zero-padded
//   to a power of two, as Kaldi does: 400 -> 512), a radix-2 FFT runs in workgroup memory, then
//   the power spectrum, a sparse Slaney mel filterbank (host-computed, f64) and log10(max(., 1e-10)).
// Output: (n_mels, n_frames), Whisper's layout.

struct Dims {
    n_samples: u32,
    n_frames: u32,
    n_fft: u32,
    log2_fft: u32,
    win_length: u32,
    hop: u32,
    n_mels: u32,
    n_bins: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> pcm: array<f32>;
// window[p] for p in 0..n_fft: Hann samples, zero outside the centred win_length span.
@group(0) @binding(2) var<storage, read> window: array<f32>;
// twiddle[k] = exp(-2 pi i k / n_fft) for k in 0..n_fft/2, computed on the host in f64.
@group(0) @binding(3) var<storage, read> twiddle: array<vec2<f32>>;
// mel_range[m] = first and one-past-last FFT bin with non-zero weight in filter m.
@group(0) @binding(4) var<storage, read> mel_range: array<vec2<u32>>;
// mel_weight[m * n_bins + k]: Slaney-normalised triangular filters.
@group(0) @binding(5) var<storage, read> mel_weight: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
const MAX_FFT: u32 = 512u;
var<workgroup> buf: array<vec2<f32>, MAX_FFT>;
var<workgroup> power: array<f32, 257>;

fn reflect_index(i: i32, n: i32) -> u32 {
    // torch's reflect padding: -1 -> 1, n -> n - 2 (no edge repeat). Valid while pad < n.
    var j = i;
    if (j < 0) {
        j = -j;
    }
    if (j >= n) {
        j = 2 * n - 2 - j;
    }
    return u32(clamp(j, 0, n - 1));
}

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    let f = wg.x;
    if (f >= dims.n_frames) {
        return;
    }
    let n = dims.n_fft;
    let start = i32(f * dims.hop) - i32(n / 2u);
    let ns = i32(dims.n_samples);

    // Windowed load straight into bit-reversed order, so the butterflies below run in place.
    for (var p = lidx; p < n; p += WG) {
        let sample = pcm[reflect_index(start + i32(p), ns)];
        let dst = reverseBits(p) >> (32u - dims.log2_fft);
        buf[dst] = vec2<f32>(sample * window[p], 0.0);
    }
    workgroupBarrier();

    // Iterative radix-2 decimation-in-time; each invocation owns n/2/WG butterflies per stage.
    for (var half = 1u; half < n; half <<= 1u) {
        let tw_stride = n / (2u * half);
        for (var b = lidx; b < n / 2u; b += WG) {
            let pos = b % half;
            let i0 = (b / half) * 2u * half + pos;
            let i1 = i0 + half;
            let w = twiddle[pos * tw_stride];
            let x1 = buf[i1];
            let t = vec2<f32>(w.x * x1.x - w.y * x1.y, w.x * x1.y + w.y * x1.x);
            let x0 = buf[i0];
            buf[i0] = x0 + t;
            buf[i1] = x0 - t;
        }
        workgroupBarrier();
    }

    for (var k = lidx; k < dims.n_bins; k += WG) {
        let z = buf[k];
        power[k] = z.x * z.x + z.y * z.y;
    }
    workgroupBarrier();

    for (var m = lidx; m < dims.n_mels; m += WG) {
        let r = mel_range[m];
        var acc = 0.0;
        for (var k = r.x; k < r.y; k++) {
            acc += mel_weight[m * dims.n_bins + k] * power[k];
        }
        out[m * dims.n_frames + f] = log(max(acc, 1e-10)) * 0.4342944819032518;
    }
}
