//! Whisper-style log-mel spectrogram of the speech clip in `static/speech.wav`.

use super::{AudioInputs, Inputs, KernelImpl, ParamSpec};
use crate::catalogue::Params;
use crate::op::{LogMelDims, Op};
use crate::plan::{Dispatch, OutputType, Pass, Plan};
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

const CFG: MelConfig = MelConfig { sample_rate: 16000, n_fft: 512, win_length: 400, hop: 160, n_mels: 80 };

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
    pub fn new(d: LogMelDims, n_samples: usize) -> MelSetup {
        let cfg = MelConfig { n_mels: d.n_mels, ..CFG };
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
        let cfg = config(p);
        let frames = cfg.n_frames(p.usize("millis") * 16) as f64;
        let n = cfg.n_fft as f64;
        // Radix-2 FFT ~ 5 N log2 N; power 3 per bin; mel ~ 2 per non-zero weight (~2 bins per band
        // per octave: bounded by n_bins * 2 overall).
        let per_frame = 5.0 * n * n.log2() + 3.0 * cfg.n_bins() as f64 + 4.0 * cfg.n_bins() as f64;
        Work {
            flops: frames * per_frame,
            bytes: 4.0 * (p.usize("millis") * 16) as f64 + 4.0 * frames * cfg.n_mels as f64,
        }
    }

    fn plan(&self, shader: &'static Shader, p: &Params, i: &Inputs) -> Plan {
        let cfg = config(p);
        let pcm = &i.audio().pcm;
        let frames = cfg.n_frames(pcm.len());
        let nb = cfg.n_bins();
        let mut plan = Plan::new(shader);
        let u = plan.uniform(
            "dims",
            &[
                ("n_samples", (pcm.len() as u32).into()),
                ("n_frames", (frames as u32).into()),
                ("n_fft", (cfg.n_fft as u32).into()),
                ("log2_fft", cfg.n_fft.trailing_zeros().into()),
                ("win_length", (cfg.win_length as u32).into()),
                ("hop", (cfg.hop as u32).into()),
                ("n_mels", (cfg.n_mels as u32).into()),
                ("n_bins", (nb as u32).into()),
            ],
        );
        let pcm_b = plan.storage_f32("pcm", pcm);
        let setup = MelSetup::new(LogMelDims { millis: p.usize("millis"), n_mels: cfg.n_mels }, pcm.len());
        let window = plan.storage_f32("window", &setup.window);
        let tw: Vec<f32> = (0..cfg.n_fft / 2)
            .flat_map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / cfg.n_fft as f64;
                [a.cos() as f32, a.sin() as f32]
            })
            .collect();
        let tw = plan.storage_f32("twiddle", &tw);
        let ranges: Vec<u32> = setup.ranges.iter().flat_map(|&(a, b)| [a as u32, b as u32]).collect();
        let ranges = plan.storage_bytes("mel_range", bytemuck::cast_slice(&ranges).to_vec());
        let weights = plan.storage_f32("mel_weight", &setup.weights);
        let out = plan.output("logmel", cfg.n_mels * frames, OutputType::F32);
        plan.timed.push(Pass {
            label: "logmel".into(),
            dispatches: vec![Dispatch {
                shader: None,
                entry_point: "main",
                bindings: vec![
                    ("dims", u),
                    ("pcm", pcm_b),
                    ("window", window),
                    ("twiddle", tw),
                    ("mel_range", ranges),
                    ("mel_weight", weights),
                    ("out", out),
                ],
                workgroups: [frames as u32, 1, 1],
            }],
        });
        plan
    }
}
