//! Whisper-style log-mel spectrogram of the speech clip in `static/speech.wav`.

use super::{AudioInputs, Inputs, KernelImpl, ParamSpec};
use crate::catalogue::Params;
use crate::op::{LogMelDims, Op};
use crate::plan::{BufferId, Call, OutputType, Plan};
use crate::reference::{self, MelConfig};
use crate::schema::Work;
use crate::shaders::Shader;

/// The default input: a few seconds of real speech (espeak-ng, resampled to 16 kHz mono s16).
static SPEECH_WAV: &[u8] = include_bytes!("../../../static/speech.wav");

/// The clip as f32 samples in [-1, 1).
///
/// # Panics
/// If the embedded file is not 16 kHz mono 16-bit PCM; `tests/cpu` checks it is.
pub fn speech_clip() -> Vec<f32> {
    let reader = hound::WavReader::new(SPEECH_WAV).expect("static/speech.wav is a WAV file");
    let spec = reader.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (16000, 1, 16), "static/speech.wav format");
    reader.into_samples::<i16>().map(|s| f32::from(s.expect("readable sample")) / 32768.0).collect()
}

const CFG: MelConfig = MelConfig { sample_rate: 16000, n_fft: 512, win_length: 400, hop: MEL_HOP, n_mels: 80 };

/// Samples per mel frame (10 ms at 16 kHz), Whisper's.
pub const MEL_HOP: usize = 160;

/// Whisper's log-mel configuration with `n_mels` bands.
pub fn mel_config(n_mels: usize) -> MelConfig {
    MelConfig { n_mels, ..CFG }
}

fn config(p: &Params) -> MelConfig {
    MelConfig { n_mels: p.usize("n_mels"), ..CFG }
}

/// Everything a log-mel implementation needs besides the samples, computed once in f64 and
/// rounded to f32: the window, and the filterbank as (first, end) bin ranges plus weights.
#[derive(Debug, Clone)]
pub struct MelSetup {
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub n_bins: usize,
    pub n_frames: usize,
    pub window: Vec<f32>,
    pub ranges: Vec<(usize, usize)>,
    /// (n_mels, n_bins), row-major.
    pub weights: Vec<f32>,
}

impl MelSetup {
    /// For `n_samples` of audio into `n_mels` bands.
    pub fn new(n_mels: usize, n_samples: usize) -> MelSetup {
        let cfg = MelConfig { n_mels, ..CFG };
        let nb = cfg.n_bins();
        let fb = cfg.filterbank();
        let ranges = (0..cfg.n_mels)
            .map(|m| {
                let row = &fb[m * nb..][..nb];
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
                let end = row.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
                (first, end)
            })
            .collect();
        MelSetup {
            n_fft: cfg.n_fft,
            hop: cfg.hop,
            n_mels: cfg.n_mels,
            n_bins: nb,
            n_frames: cfg.n_frames(n_samples),
            window: cfg.window().iter().map(|&w| w as f32).collect(),
            ranges,
            weights: fb.iter().map(|&w| w as f32).collect(),
        }
    }
}

#[derive(Debug)]
pub struct LogMel;

const SPEC: &[ParamSpec] = &[
    // Reflect padding needs more than n_fft / 2 samples.
    ParamSpec::new("millis", 100, 3_600_000, "milliseconds of 16 kHz audio"),
    ParamSpec::new("n_mels", 1, 128, "mel bands"),
];

impl KernelImpl for LogMel {
    fn spec(&self) -> &'static [ParamSpec] {
        SPEC
    }

    fn op(&self, p: &Params) -> Op {
        Op::LogMel(LogMelDims { millis: p.usize("millis"), n_mels: p.usize("n_mels") })
    }

    /// The clip, repeated to `millis` of audio. The seed is unused: the input is real speech.
    fn generate(&self, p: &Params, _seed: u64) -> Inputs {
        let n = p.usize("millis") * 16;
        let clip = speech_clip();
        Inputs::Audio(AudioInputs { pcm: clip.iter().copied().cycle().take(n).collect() })
    }

    fn reference(&self, p: &Params, i: &Inputs) -> Vec<f32> {
        reference::logmel(&i.audio().pcm, &config(p))
    }

    fn work(&self, p: &Params) -> Work {
        work(p.usize("millis") * 16, p.usize("n_mels"))
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let pcm = &i.audio().pcm;
        let setup = MelSetup::new(p.usize("n_mels"), pcm.len());
        let mut plan = Plan::new(shader);
        let t = setup.tables();
        let b = MelBuffers {
            pcm: plan.storage_f32("pcm", pcm),
            window: plan.storage_f32("window", &t.window),
            twiddle: plan.storage_f32("twiddle", &t.twiddle),
            ranges: plan.storage_bytes("mel_range", bytemuck::cast_slice(&t.ranges).to_vec()),
            weights: plan.storage_f32("mel_weight", &t.weights),
            out: plan.output("logmel", setup.n_mels * setup.n_frames, OutputType::F32),
        };
        let pass = plan.pass("logmel", vec![call(shader, &setup, pcm.len(), b)]);
        plan.timed.push(pass);
        plan
    }
}

/// FFT, power and mel work of `n_samples` of audio into `n_mels` bands.
pub(crate) fn work(n_samples: usize, n_mels: usize) -> Work {
    let cfg = MelConfig { n_mels, ..CFG };
    let frames = cfg.n_frames(n_samples) as f64;
    let n = cfg.n_fft as f64;
    // Radix-2 FFT ~ 5 N log2 N; power 3 per bin; mel ~ 2 per non-zero weight (~2 bins per band
    // per octave: bounded by n_bins * 2 overall).
    let per_frame = 5.0 * n * n.log2() + 3.0 * cfg.n_bins() as f64 + 4.0 * cfg.n_bins() as f64;
    Work { flops: frames * per_frame, bytes: 4.0 * n_samples as f64 + 4.0 * frames * cfg.n_mels as f64 }
}

/// The tables `logmel.wgsl` reads besides the samples, as uploaded.
#[derive(Debug, Clone)]
pub struct MelTables {
    pub window: Vec<f32>,
    /// (re, im) pairs of exp(-2 pi i k / n_fft), k < n_fft / 2, from f64.
    pub twiddle: Vec<f32>,
    /// (first, end) FFT bin per band.
    pub ranges: Vec<u32>,
    pub weights: Vec<f32>,
}

impl MelSetup {
    pub fn tables(&self) -> MelTables {
        let twiddle = (0..self.n_fft / 2)
            .flat_map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / self.n_fft as f64;
                [a.cos() as f32, a.sin() as f32]
            })
            .collect();
        MelTables {
            window: self.window.clone(),
            twiddle,
            ranges: self.ranges.iter().flat_map(|&(a, b)| [a as u32, b as u32]).collect(),
            weights: self.weights.clone(),
        }
    }
}

/// The buffers of `logmel.wgsl`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MelBuffers {
    pub pcm: BufferId,
    pub window: BufferId,
    pub twiddle: BufferId,
    pub ranges: BufferId,
    pub weights: BufferId,
    pub out: BufferId,
}

/// One workgroup per frame of `n_samples` samples.
pub(crate) fn call(shader: &'static Shader, setup: &MelSetup, n_samples: usize, b: MelBuffers) -> Call {
    let u = |v: usize| (v as u32).into();
    Call {
        shader,
        entry_point: "main",
        dims: vec![
            ("n_samples", u(n_samples)),
            ("n_frames", u(setup.n_frames)),
            ("n_fft", u(setup.n_fft)),
            ("log2_fft", setup.n_fft.trailing_zeros().into()),
            ("win_length", u(CFG.win_length)),
            ("hop", u(setup.hop)),
            ("n_mels", u(setup.n_mels)),
            ("n_bins", u(setup.n_bins)),
        ],
        bindings: vec![
            ("pcm", b.pcm),
            ("window", b.window),
            ("twiddle", b.twiddle),
            ("mel_range", b.ranges),
            ("mel_weight", b.weights),
            ("out", b.out),
        ],
        workgroups: [setup.n_frames as u32, 1, 1],
    }
}
