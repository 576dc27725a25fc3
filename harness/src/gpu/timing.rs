//! Timing a plan's passes: timestamp queries with their granularity detected from the samples
//! (quantised browsers show it), or host fences, as the [`Timed`] the measurement protocol drives.

use crate::clock;
use crate::measure::{FirstRun, Reading, SamplingConfig, Timed};
use crate::plan::{OutputType, Plan};
use crate::schema::{TimerInfo, TimerKind};

use super::resources::{Compiled, Resources, encode};
use super::{GpuDevice, GpuError};

/// WebGPU caps a query set at 4096 queries; two per pass per repetition.
const MAX_QUERIES: u32 = 4096;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Below this a detected timestamp granularity is the counter's own; at or above it the values
/// were coarsened (no GPU counter ticks in microseconds).
const QUANTIZED_NS: f64 = 1000.0;

/// The timer as the samples show it: the timestamp period, or the coarser granularity the
/// timestamps actually had.
fn timestamp_timer(period: f64, tick_gcd: u64) -> TimerInfo {
    let step = if tick_gcd > 0 { tick_gcd as f64 * period } else { period };
    TimerInfo { kind: TimerKind::GpuTimestamp, resolution_ns: step.max(period), quantized: step >= QUANTIZED_NS }
}

/// One sample of `reps` executions, and the greatest common divisor of its timestamps' offsets
/// from the first, in ticks (0 without timestamps): a browser that quantises timestamps (Chrome:
/// 100 us unless started with `--enable-webgpu-developer-features`) shows it there, whatever it
/// claims.
async fn sample(
    dev: &GpuDevice,
    prep: &Resources,
    reps: u32,
    ts: Option<&Timestamps>,
) -> Result<(Reading, u64), GpuError> {
    let npass = prep.timed.len();
    let mut encoder = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("sample") });
    encode(&mut encoder, &prep.timed, reps, ts.map(|t| &t.0));
    let nq = 2 * reps * npass as u32;
    if let Some((qs, resolve, readback)) = ts {
        encoder.resolve_query_set(qs, 0..nq, resolve, 0);
        encoder.copy_buffer_to_buffer(resolve, 0, readback, 0, u64::from(nq) * 8);
    }
    let t0 = clock::now();
    dev.queue.submit([encoder.finish()]);
    dev.wait_idle().await?;
    let wall_ns = t0.elapsed().as_secs_f64() * 1e9;
    match ts {
        None => Ok((Reading { per_exec_ns: wall_ns / f64::from(reps), wall_ns, per_pass_ns: vec![] }, 0)),
        Some((_, _, readback)) => {
            let raw = dev.read(readback, u64::from(nq) * 8).await?;
            let ticks: &[u64] = bytemuck::cast_slice(&raw);
            let period = f64::from(dev.queue.get_timestamp_period());
            let total = ticks[nq as usize - 1].saturating_sub(ticks[0]) as f64 * period;
            let mut per_pass = vec![0.0; npass];
            for r in 0..reps as usize {
                for (p, acc) in per_pass.iter_mut().enumerate() {
                    let i = 2 * (r * npass + p);
                    *acc += ticks[i + 1].saturating_sub(ticks[i]) as f64 * period / f64::from(reps);
                }
            }
            let tick_gcd = ticks[..nq as usize].iter().fold(0, |g, &t| gcd(g, t.saturating_sub(ticks[0])));
            Ok((Reading { per_exec_ns: total / f64::from(reps), wall_ns, per_pass_ns: per_pass }, tick_gcd))
        }
    }
}

type Timestamps = (wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer);

/// A plan on a device, timed with timestamp queries where the device has them and host fences
/// where it does not.
pub(super) struct GpuTimed<'a> {
    pub(super) dev: &'a GpuDevice,
    pub(super) plan: Plan,
    pub(super) res: Resources,
    pub(super) use_ts: bool,
    /// Query set and buffers for the current batch size.
    pub(super) ts: Option<(u32, Timestamps)>,
    /// Timestamp granularity over every execution so far, in ticks (see [`sample`]).
    pub(super) tick_gcd: u64,
    pub(super) host_resolution_ns: f64,
    pub(super) compiled: Compiled,
    /// Bytes written into a buffer once the checked run is read back (a model switches from
    /// replaying the reference's tokens to its own).
    pub(super) after_check: Option<(usize, Vec<u8>)>,
}

impl<'a> GpuTimed<'a> {
    pub(super) fn new(
        dev: &'a GpuDevice,
        plan: Plan,
        res: Resources,
        compiled: Compiled,
        opts: &super::RunOptions,
    ) -> Self {
        GpuTimed {
            dev,
            plan,
            res,
            use_ts: opts.use_timestamps && dev.has_timestamps(),
            ts: None,
            tick_gcd: 0,
            host_resolution_ns: opts.host_resolution_ns,
            compiled,
            after_check: None,
        }
    }
}

impl std::fmt::Debug for GpuTimed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuTimed").field("shader", &self.plan.shader.file).field("use_ts", &self.use_ts).finish()
    }
}

impl Timed for GpuTimed<'_> {
    type Error = GpuError;

    async fn first_run(&mut self) -> Result<FirstRun, GpuError> {
        let (dev, plan, res) = (self.dev, &self.plan, &self.res);
        let scope = dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
        if !res.setup.is_empty() {
            let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("setup") });
            encode(&mut enc, &res.setup, 1, None);
            dev.queue.submit([enc.finish()]);
            dev.wait_idle().await?;
        }
        // Cold: caches, lazy driver compiles. Checked, never a sample.
        let out = &res.buffers[plan.output];
        let elem = match plan.output_type {
            OutputType::F32 => 4,
            OutputType::F16 => 2,
        };
        let out_bytes = ((plan.output_len * elem) as u64).next_multiple_of(4);
        let readback = dev.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: out_bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("first") });
        encode(&mut enc, &res.timed, 1, None);
        let t0 = clock::now();
        dev.queue.submit([enc.finish()]);
        dev.wait_idle().await?;
        let ns = t0.elapsed().as_secs_f64() * 1e9;
        let mut enc = dev.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("copy") });
        enc.copy_buffer_to_buffer(out, 0, &readback, 0, out_bytes);
        dev.queue.submit([enc.finish()]);
        let raw = dev.read(&readback, out_bytes).await?;
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Wgpu { during: "running the kernel", message: e.to_string() });
        }
        if let Some((buf, bytes)) = self.after_check.take() {
            dev.queue.write_buffer(&res.buffers[buf], 0, &bytes);
        }
        let output = match plan.output_type {
            OutputType::F32 => bytemuck::cast_slice::<u8, f32>(&raw)[..plan.output_len].to_vec(),
            OutputType::F16 => bytemuck::cast_slice::<u8, u16>(&raw)[..plan.output_len]
                .iter()
                .map(|&h| half::f16::from_bits(h).to_f32())
                .collect(),
        };
        Ok(FirstRun { output, ns })
    }

    async fn sample(&mut self, reps: u32) -> Result<Reading, GpuError> {
        if self.use_ts && self.ts.as_ref().is_none_or(|(n, _)| *n != reps) {
            self.ts = Some((reps, make_timestamps(self.dev, reps, self.res.timed.len() as u32)));
        }
        let scope = self.dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let (reading, tick_gcd) = sample(self.dev, &self.res, reps, self.ts.as_ref().map(|(_, t)| t)).await?;
        if let Some(e) = scope.pop().await {
            return Err(GpuError::Wgpu { during: "timing the kernel", message: e.to_string() });
        }
        self.tick_gcd = gcd(self.tick_gcd, tick_gcd);
        Ok(reading)
    }

    fn timer(&self) -> TimerInfo {
        if self.use_ts {
            timestamp_timer(f64::from(self.dev.queue.get_timestamp_period()), self.tick_gcd)
        } else {
            TimerInfo { kind: TimerKind::HostFence, resolution_ns: self.host_resolution_ns, quantized: false }
        }
    }

    fn min_sample_ns(&self, cfg: &SamplingConfig) -> f64 {
        let span = cfg.min_resolutions_per_sample * self.timer().resolution_ns;
        // A fence sample also carries a fixed submit-and-wait cost; 1 ms keeps it to a few percent.
        if self.use_ts { span } else { span.max(1e6) }
    }

    fn max_reps(&self) -> u32 {
        if self.use_ts { (MAX_QUERIES / (2 * self.res.timed.len() as u32)).max(1) } else { 1000 }
    }

    fn phase_labels(&self) -> Vec<String> {
        if self.use_ts && self.plan.timed.len() > 1 {
            self.plan.timed.iter().map(|p| p.label.clone()).collect()
        } else {
            vec![]
        }
    }

    fn pipeline_ns(&self) -> Option<f64> {
        Some(self.compiled.cold_ns)
    }

    fn warm_pipeline_ns(&self) -> Option<f64> {
        Some(self.compiled.warm_ns)
    }

    fn pipeline_cache(&self) -> Option<crate::schema::PipelineCacheState> {
        Some(self.compiled.cache)
    }
}

fn make_timestamps(dev: &GpuDevice, reps: u32, npass: u32) -> Timestamps {
    let n = 2 * reps * npass;
    let qs = dev.device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("timestamps"),
        ty: wgpu::QueryType::Timestamp,
        count: n,
    });
    let buffer = |label, usage| {
        dev.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: u64::from(n) * 8,
            usage,
            mapped_at_creation: false,
        })
    };
    let resolve = buffer("ts-resolve", wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC);
    let read = buffer("ts-read", wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
    (qs, resolve, read)
}

#[cfg(test)]
mod tests {
    use super::{gcd, timestamp_timer};

    #[test]
    fn quantised_timestamps_are_detected_from_their_granularity() {
        // Chrome without developer features: every timestamp a multiple of 100 us.
        let ticks = [1_700_000_000u64, 1_700_100_000, 1_700_300_000, 1_700_400_000];
        let g = ticks.iter().fold(0, |g, &t| gcd(g, t - ticks[0]));
        let t = timestamp_timer(1.0, g);
        assert!(t.quantized && t.resolution_ns == 100_000.0, "{t:?}");
        // Nanosecond timestamps: the granularity is the counter's.
        let ticks = [1_000_000_017u64, 1_000_412_345, 1_000_981_002];
        let g = ticks.iter().fold(0, |g, &t| gcd(g, t - ticks[0]));
        let t = timestamp_timer(1.0, g);
        assert!(!t.quantized && t.resolution_ns < 1000.0, "{t:?}");
        // No timestamps seen yet: the advertised period.
        assert_eq!(timestamp_timer(52.08, 0).resolution_ns, 52.08);
    }
}
