//! `native-cuda`: NVIDIA GPUs through cudarc with the driver, NVRTC and cuBLAS loaded at run
//! time, so the binary builds and runs without CUDA. The probe checks for the libraries before
//! any cudarc call (cudarc panics when they are missing). GEMMs use cuBLAS; the row-wise and
//! elementwise kernels are CUDA C (cuda_kernels.cu) compiled by NVRTC. Timing is host clock
//! around launch and stream synchronisation, batched like every host-timed backend.

use std::sync::Arc;

use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg as _};
use harness::catalogue::{DType, Kernel, Params};
use harness::kernels::{Inputs, MelSetup};
use harness::op::{Op, RowsDims};
use harness::schema::AdapterReport;

use super::{Backend, Prepared, Probe};
use harness::host::RunError;

static KERNELS_CU: &str = include_str!("cuda_kernels.cu");

#[derive(Default)]
pub struct Cuda {
    state: std::sync::OnceLock<Result<Device, String>>,
}

impl std::fmt::Debug for Cuda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cuda")
    }
}

struct Device {
    name: String,
    stream: Arc<CudaStream>,
    blas: Arc<CudaBlas>,
    funcs: std::collections::HashMap<&'static str, CudaFunction>,
}

fn libraries_present() -> Result<(), String> {
    // SAFETY: these only try to dlopen the libraries and report whether that worked.
    #[allow(unsafe_code)]
    let (driver, nvrtc, cublas) = unsafe {
        (
            cudarc::driver::sys::is_culib_present(),
            cudarc::nvrtc::sys::is_culib_present(),
            cudarc::cublas::sys::is_culib_present(),
        )
    };
    let missing: Vec<&str> =
        [(driver, "the NVIDIA driver (libcuda.so)"), (nvrtc, "NVRTC (libnvrtc.so)"), (cublas, "cuBLAS (libcublas.so)")]
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, what)| what)
            .collect();
    if missing.is_empty() { Ok(()) } else { Err(format!("not found: {}", missing.join(", "))) }
}

fn open() -> Result<Device, String> {
    libraries_present()?;
    let ctx = CudaContext::new(0).map_err(|e| format!("no CUDA device 0: {e}"))?;
    let name = ctx.name().map_err(|e| e.to_string())?;
    let stream = ctx.default_stream();
    let blas = Arc::new(CudaBlas::new(stream.clone()).map_err(|e| format!("cuBLAS: {e}"))?);
    let ptx = cudarc::nvrtc::compile_ptx(KERNELS_CU).map_err(|e| format!("NVRTC: {e}"))?;
    let module = ctx.load_module(ptx).map_err(|e| e.to_string())?;
    let mut funcs = std::collections::HashMap::new();
    for f in
        ["gelu_tanh", "gelu_erf", "silu", "swiglu", "rope", "embedding", "softmax", "rownorm", "attention", "logmel"]
    {
        funcs.insert(f, module.load_function(f).map_err(|e| e.to_string())?);
    }
    Ok(Device { name, stream, blas, funcs })
}

impl Cuda {
    fn device(&self) -> Result<&Device, String> {
        self.state.get_or_init(open).as_ref().map_err(Clone::clone)
    }
}

impl Backend for Cuda {
    fn name(&self) -> &'static str {
        "native-cuda"
    }

    fn probe(&self) -> Probe {
        match self.device() {
            Ok(d) => Probe::Available { device: d.name.clone() },
            Err(reason) => Probe::Unavailable {
                reason,
                fix: "on a machine with an NVIDIA GPU, install the driver and the CUDA toolkit's NVRTC and cuBLAS libraries (on LD_LIBRARY_PATH)".into(),
            },
        }
    }

    fn adapter(&self) -> Option<AdapterReport> {
        let d = self.device().ok()?;
        Some(AdapterReport {
            vendor: "0x10de".into(),
            ..AdapterReport::runtime(d.name.clone(), "cuda", "discretegpu", "cuda")
        })
    }

    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String> {
        let dev = self.device().map_err(|e| format!("CUDA unavailable: {e}"))?;
        let op = kernel.imp.op(p);
        // Said before anything is uploaded: what this backend does not run yet.
        match op {
            Op::Matmul { dtype: DType::F16, .. } => {}
            op if op.dtype() == DType::F16 => {
                return Err(format!("native-cuda has no fp16 {} kernel yet (its f32 kernel is measured)", kernel.id));
            }
            Op::KvCache { .. } => return Err("native-cuda has no paged KV-cache kernels yet".into()),
            Op::Peak(_) => {
                return Err(format!(
                    "native-cuda has no {} microbenchmark yet (an NVRTC copy and FMA loop are the next step); \
                     its records carry no fraction of peak",
                    kernel.id
                ));
            }
            Op::QuantMatmul { .. } | Op::Int8Matmul { .. } => {
                return Err(format!(
                    "native-cuda has no quantised {} kernel yet (a dequantising NVRTC GEMV, and __dp4a for \
                     int8 x int8, are the next step)",
                    kernel.id
                ));
            }
            Op::Grad(_) => {
                return Err(format!(
                    "native-cuda has no {} training kernel yet (cuBLAS GEMMs with transposed operands and \
                     NVRTC elementwise kernels are the plan; wgpu and native-cpu run it)",
                    kernel.id
                ));
            }
            Op::Add { .. } | Op::CachedAttention { .. } | Op::LmHead { .. } | Op::Conv1d { .. } => {
                return Err(format!(
                    "native-cuda has no {} kernel yet (model operations run on wgpu and native-cpu)",
                    kernel.id
                ));
            }
            _ => {}
        }
        let s = &dev.stream;
        let up = |v: &[f32]| s.clone_htod(v).map_err(|e| e.to_string());
        let rows = |d: RowsDims, kind: RowKind| -> Result<Job, String> {
            let y = s.alloc_zeros::<f32>(d.rows * d.cols).map_err(|e| e.to_string())?;
            let (x, g, b) = if kind == RowKind::Softmax {
                (up(&inputs.unary().x)?, None, None)
            } else {
                let n = inputs.norm();
                (up(&n.x)?, Some(up(&n.gamma)?), Some(up(&n.beta)?))
            };
            Ok(Job::Rows { x, g, b, y, rows: d.rows, cols: d.cols, kind })
        };
        let job = match op {
            Op::Matmul { dims, dtype: DType::F32 } => {
                let d = [dims.m, dims.n, dims.k, dims.batch];
                let (a, b) = (up(&inputs.matmul().a)?, up(&inputs.matmul().b)?);
                let c = s.alloc_zeros::<f32>(d[0] * d[1] * d[3]).map_err(|e| e.to_string())?;
                Job::Matmul { a, b, c, d }
            }
            // fp16 storage, f32 accumulation (cublasGemmEx with CUBLAS_COMPUTE_32F), the shaders'
            // contract; the inputs already hold fp16-representable values.
            Op::Matmul { dims, dtype: DType::F16 } => {
                let d = [dims.m, dims.n, dims.k, dims.batch];
                let up16 = |v: &[f32]| {
                    let h: Vec<half::f16> = v.iter().map(|&x| half::f16::from_f32(x)).collect();
                    s.clone_htod(&h).map_err(|e| e.to_string())
                };
                let (a, b) = (up16(&inputs.matmul().a)?, up16(&inputs.matmul().b)?);
                let c = s.alloc_zeros::<half::f16>(d[0] * d[1] * d[3]).map_err(|e| e.to_string())?;
                Job::MatmulF16 { a, b, c, d }
            }
            Op::Softmax { dims: d, .. } => rows(d, RowKind::Softmax)?,
            Op::LayerNorm { dims: d, .. } => rows(d, RowKind::LayerNorm)?,
            Op::RmsNorm { dims: d, .. } => rows(d, RowKind::RmsNorm)?,
            Op::Attention { dims: a, .. } => {
                // One kernel for all three: causal attention with a window (seq_len when unbounded).
                let (bh, seq, d, window) = (a.batch * a.heads, a.seq_len, a.head_dim, a.window);
                let i = inputs.attention();
                let (q, k, v) = (up(&i.q)?, up(&i.k)?, up(&i.v)?);
                let o = s.alloc_zeros::<f32>(bh * seq * d).map_err(|e| e.to_string())?;
                if (d + window.min(seq)) * 4 > 48 * 1024 {
                    return Err(format!(
                        "native-cuda attention keeps a score row in shared memory; {window} keys exceed 48 KiB"
                    ));
                }
                Job::Attention { q, k, v, o, dims: [bh, seq, d, window.min(seq)] }
            }
            Op::LogMel(dims) => {
                let pcm = &inputs.audio().pcm;
                let m = MelSetup::new(dims.n_mels, pcm.len());
                let ranges: Vec<u32> = m.ranges.iter().flat_map(|&(a, b)| [a as u32, b as u32]).collect();
                let window = up(&m.window)?;
                let fb = up(&m.weights)?;
                let ranges = s.clone_htod(&ranges).map_err(|e| e.to_string())?;
                let out = s.alloc_zeros::<f32>(m.n_mels * m.n_frames).map_err(|e| e.to_string())?;
                let dims = [pcm.len(), m.n_fft, m.hop, m.n_mels, m.n_frames];
                Job::LogMel { pcm: up(pcm)?, window, fb, ranges, out, dims }
            }
            Op::Gelu { len, erf, .. } => {
                let y = s.alloc_zeros::<f32>(len).map_err(|e| e.to_string())?;
                Job::Gelu { x: up(&inputs.unary().x)?, y, erf }
            }
            Op::Silu { len, .. } => Job::Swish {
                x: up(&inputs.unary().x)?,
                up: None,
                y: s.alloc_zeros::<f32>(len).map_err(|e| e.to_string())?,
            },
            Op::SwiGlu { len, .. } => {
                let g = inputs.glu();
                let (x, u) = (up(&g.gate)?, Some(up(&g.up)?));
                Job::Swish { x, up: u, y: s.alloc_zeros::<f32>(len).map_err(|e| e.to_string())? }
            }
            Op::Embedding { dims: d, .. } => {
                let i = inputs.embedding();
                let y = s.alloc_zeros::<f32>(d.tokens * d.hidden).map_err(|e| e.to_string())?;
                let ids = s.clone_htod(&i.ids).map_err(|e| e.to_string())?;
                Job::Embedding { table: up(&i.table)?, ids, y, dims: [d.tokens as u32, d.hidden as u32] }
            }
            Op::Rope { dims: d, .. } => {
                let i = inputs.rope();
                let y = s.alloc_zeros::<f32>(i.x.len()).map_err(|e| e.to_string())?;
                let dims = [d.tokens as u32, d.heads as u32, (d.head_dim / 2) as u32];
                Job::Rope { x: up(&i.x)?, cos: up(&i.cos)?, sin: up(&i.sin)?, y, dims }
            }
            Op::Matmul { dtype: DType::Q8 | DType::Q4, .. }
            | Op::Int8Matmul { .. }
            | Op::KvCache { .. }
            | Op::Add { .. }
            | Op::CachedAttention { .. }
            | Op::LmHead { .. }
            | Op::QuantMatmul { .. }
            | Op::Conv1d { .. }
            | Op::Peak(_)
            | Op::Grad(_) => unreachable!("refused above"),
        };
        Ok(Box::new(CudaRun { stream: s.clone(), blas: dev.blas.clone(), funcs: dev.funcs.clone(), job }))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Softmax,
    LayerNorm,
    RmsNorm,
}

enum Job {
    Matmul {
        a: CudaSlice<f32>,
        b: CudaSlice<f32>,
        c: CudaSlice<f32>,
        d: [usize; 4],
    },
    MatmulF16 {
        a: CudaSlice<half::f16>,
        b: CudaSlice<half::f16>,
        c: CudaSlice<half::f16>,
        d: [usize; 4],
    },
    Rows {
        x: CudaSlice<f32>,
        g: Option<CudaSlice<f32>>,
        b: Option<CudaSlice<f32>>,
        y: CudaSlice<f32>,
        rows: usize,
        cols: usize,
        kind: RowKind,
    },
    Embedding {
        table: CudaSlice<f32>,
        ids: CudaSlice<u32>,
        y: CudaSlice<f32>,
        /// tokens, hidden.
        dims: [u32; 2],
    },
    Rope {
        x: CudaSlice<f32>,
        cos: CudaSlice<f32>,
        sin: CudaSlice<f32>,
        y: CudaSlice<f32>,
        /// tokens, heads, head_dim / 2.
        dims: [u32; 3],
    },
    /// SiLU, or SwiGLU when `up` is there.
    Swish {
        x: CudaSlice<f32>,
        up: Option<CudaSlice<f32>>,
        y: CudaSlice<f32>,
    },
    Gelu {
        x: CudaSlice<f32>,
        y: CudaSlice<f32>,
        erf: bool,
    },
    Attention {
        q: CudaSlice<f32>,
        k: CudaSlice<f32>,
        v: CudaSlice<f32>,
        o: CudaSlice<f32>,
        /// batch*heads, seq_len, head_dim, window (<= seq_len).
        dims: [usize; 4],
    },
    LogMel {
        pcm: CudaSlice<f32>,
        window: CudaSlice<f32>,
        fb: CudaSlice<f32>,
        ranges: CudaSlice<u32>,
        out: CudaSlice<f32>,
        /// samples, n_fft, hop, n_mels, n_frames.
        dims: [usize; 5],
    },
}

struct CudaRun {
    stream: Arc<CudaStream>,
    blas: Arc<CudaBlas>,
    funcs: std::collections::HashMap<&'static str, CudaFunction>,
    job: Job,
}

/// Row-major C = A B per batch through cuBLAS, for f32 (sgemm) and fp16 (GemmEx, f32 compute).
fn gemm_batches<T>(
    blas: &CudaBlas,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    c: &mut CudaSlice<T>,
    [m, n, k, batch]: [usize; 4],
    one: T,
    zero: T,
) -> Result<(), cudarc::cublas::result::CublasError>
where
    T: cudarc::driver::DeviceRepr + Copy,
    CudaBlas: Gemm<T>,
{
    for bi in 0..batch {
        // Row-major C = A B is column-major C^T = B^T A^T: call cuBLAS with B first.
        let cfg = GemmConfig {
            transa: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
            transb: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
            m: n as i32,
            n: m as i32,
            k: k as i32,
            alpha: one,
            lda: n as i32,
            ldb: k as i32,
            beta: zero,
            ldc: n as i32,
        };
        let (bs, as_, mut cs) = (b.slice(bi * k * n..), a.slice(bi * m * k..), c.slice_mut(bi * m * n..));
        // SAFETY: the slices hold k*n, m*k and m*n elements from the offsets above, which is
        // exactly what this configuration reads and writes.
        #[allow(unsafe_code)]
        unsafe { blas.gemm(cfg, &bs, &as_, &mut cs) }?;
    }
    Ok(())
}

/// A 1-D grid of 256-thread blocks for `n` elements, capped: the kernels grid-stride the rest.
fn grid_stride(n: u32) -> LaunchConfig {
    LaunchConfig { grid_dim: (n.div_ceil(256).clamp(1, 65535), 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 }
}

// cudarc's handles are Send + Sync; the run is used from one thread at a time.
impl Prepared for CudaRun {
    fn run(&mut self) -> Result<(), RunError> {
        let rows_cfg =
            |rows: usize| LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
        #[allow(unsafe_code)]
        match &mut self.job {
            Job::Matmul { a, b, c, d } => gemm_batches(&self.blas, a, b, c, *d, 1.0f32, 0.0f32)
                .map_err(|e| RunError(format!("cuBLAS sgemm: {e}")))?,
            Job::MatmulF16 { a, b, c, d } => gemm_batches(&self.blas, a, b, c, *d, half::f16::ONE, half::f16::ZERO)
                .map_err(|e| RunError(format!("cuBLAS GemmEx (fp16, f32 accumulate): {e}")))?,
            Job::Rows { x, g, b, y, rows, cols, kind } => {
                let cols32 = *cols as u32;
                if *kind == RowKind::Softmax {
                    let f = &self.funcs["softmax"];
                    // SAFETY: softmax reads rows*cols of x and writes as many of y, one block per row.
                    unsafe { self.stream.launch_builder(f).arg(&*x).arg(&mut *y).arg(&cols32).launch(rows_cfg(*rows)) }
                        .map_err(|e| RunError(format!("softmax launch: {e}")))?;
                } else {
                    let f = &self.funcs["rownorm"];
                    let rms: i32 = i32::from(*kind == RowKind::RmsNorm);
                    let eps = 1e-5f32;
                    let (Some(g), Some(b)) = (g.as_ref(), b.as_ref()) else {
                        return Err(RunError("a norm job was prepared without gamma and beta".into()));
                    };
                    // SAFETY: norm reads rows*cols of x, cols of gamma and beta, writes rows*cols of y.
                    unsafe {
                        self.stream
                            .launch_builder(f)
                            .arg(&*x)
                            .arg(g)
                            .arg(b)
                            .arg(&mut *y)
                            .arg(&cols32)
                            .arg(&eps)
                            .arg(&rms)
                            .launch(rows_cfg(*rows))
                    }
                    .map_err(|e| RunError(format!("norm launch: {e}")))?;
                }
            }
            Job::Gelu { x, y, erf } => {
                let n = x.len() as u32;
                let f = &self.funcs[if *erf { "gelu_erf" } else { "gelu_tanh" }];
                let cfg = grid_stride(n);
                // SAFETY: the grid-stride loop touches indices below n = len of x and y.
                unsafe { self.stream.launch_builder(f).arg(&*x).arg(&mut *y).arg(&n).launch(cfg) }
                    .map_err(|e| RunError(format!("gelu launch: {e}")))?;
            }
            Job::Swish { x, up, y } => {
                let n = x.len() as u32;
                let cfg = grid_stride(n);
                // SAFETY: the grid-stride loops touch indices below n = len of x, up and y.
                match up {
                    None => unsafe {
                        self.stream.launch_builder(&self.funcs["silu"]).arg(&*x).arg(&mut *y).arg(&n).launch(cfg)
                    },
                    Some(u) => unsafe {
                        self.stream
                            .launch_builder(&self.funcs["swiglu"])
                            .arg(&*x)
                            .arg(&*u)
                            .arg(&mut *y)
                            .arg(&n)
                            .launch(cfg)
                    },
                }
                .map_err(|e| RunError(format!("silu launch: {e}")))?;
            }
            Job::Embedding { table, ids, y, dims } => {
                let [tokens, hidden] = *dims;
                let total = tokens * hidden;
                let cfg = grid_stride(total);
                // SAFETY: e < tokens*hidden = len(y); ids holds tokens entries, each below vocab,
                // so every table index is below vocab*hidden = len(table).
                unsafe {
                    self.stream
                        .launch_builder(&self.funcs["embedding"])
                        .arg(&*table)
                        .arg(&*ids)
                        .arg(&mut *y)
                        .arg(&tokens)
                        .arg(&hidden)
                        .launch(cfg)
                }
                .map_err(|e| RunError(format!("embedding launch: {e}")))?;
            }
            Job::Rope { x, cos, sin, y, dims } => {
                let [tokens, heads, half] = *dims;
                let total = tokens * heads * half;
                let cfg = grid_stride(total);
                // SAFETY: the grid-stride loop touches pairs below tokens*heads*half: x and y hold
                // tokens*heads*2*half elements, the tables tokens*half.
                unsafe {
                    self.stream
                        .launch_builder(&self.funcs["rope"])
                        .arg(&*x)
                        .arg(&*cos)
                        .arg(&*sin)
                        .arg(&mut *y)
                        .arg(&tokens)
                        .arg(&heads)
                        .arg(&half)
                        .launch(cfg)
                }
                .map_err(|e| RunError(format!("rope launch: {e}")))?;
            }
            Job::Attention { q, k, v, o, dims } => {
                let [bh, seq, d, window] = dims.map(|x| x as u32);
                let scale = 1.0 / (d as f32).sqrt();
                let cfg =
                    LaunchConfig { grid_dim: (seq, bh, 1), block_dim: (128, 1, 1), shared_mem_bytes: (d + window) * 4 };
                // SAFETY: block (i, bh) reads row i of q and rows lo..=i of k and v of head bh, and
                // writes row i of o; all inside bh*seq*d; shared memory is d + window floats.
                unsafe {
                    self.stream
                        .launch_builder(&self.funcs["attention"])
                        .arg(&*q)
                        .arg(&*k)
                        .arg(&*v)
                        .arg(&mut *o)
                        .arg(&seq)
                        .arg(&d)
                        .arg(&window)
                        .arg(&scale)
                        .launch(cfg)
                }
                .map_err(|e| RunError(format!("attention launch: {e}")))?;
            }
            Job::LogMel { pcm, window, fb, ranges, out, dims } => {
                let [n, n_fft, hop, n_mels, n_frames] = dims.map(|x| x as u32);
                let cfg = LaunchConfig {
                    grid_dim: (n_frames, 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: (n_fft + n_fft / 2 + 1) * 4,
                };
                // SAFETY: block f reads n_fft reflect-clamped samples below n, the window (n_fft),
                // the filterbank (n_mels x bins) within each mel's range, and writes column f of
                // the (n_mels, n_frames) output.
                unsafe {
                    self.stream
                        .launch_builder(&self.funcs["logmel"])
                        .arg(&*pcm)
                        .arg(&n)
                        .arg(&*window)
                        .arg(&*fb)
                        .arg(&*ranges)
                        .arg(&mut *out)
                        .arg(&n_fft)
                        .arg(&hop)
                        .arg(&n_mels)
                        .arg(&n_frames)
                        .launch(cfg)
                }
                .map_err(|e| RunError(format!("logmel launch: {e}")))?;
            }
        }
        // Launches are asynchronous: a run ends when the GPU has finished it.
        self.stream.synchronize().map_err(|e| RunError(format!("CUDA stream synchronize: {e}")))
    }

    fn output(&self) -> Result<Vec<f32>, RunError> {
        let out = match &self.job {
            Job::MatmulF16 { c, .. } => {
                let h = self.stream.clone_dtoh(c).map_err(|e| RunError(format!("CUDA readback: {e}")))?;
                return Ok(h.into_iter().map(half::f16::to_f32).collect());
            }
            Job::Matmul { c, .. } => c,
            Job::Rows { y, .. }
            | Job::Gelu { y, .. }
            | Job::Swish { y, .. }
            | Job::Rope { y, .. }
            | Job::Embedding { y, .. } => y,
            Job::Attention { o, .. } => o,
            Job::LogMel { out, .. } => out,
        };
        self.stream.clone_dtoh(out).map_err(|e| RunError(format!("CUDA readback: {e}")))
    }
}
