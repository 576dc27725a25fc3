//! `native-cuda`: NVIDIA GPUs through cudarc with the driver, NVRTC and cuBLAS loaded at run
//! time, so the binary builds and runs without CUDA. The probe checks for the libraries before
//! any cudarc call (cudarc panics when they are missing). GEMMs use cuBLAS; the row-wise and
//! elementwise kernels are CUDA C (cuda_kernels.cu) compiled by NVRTC. Timing is host clock
//! around launch and stream synchronisation, batched like every host-timed backend.

use std::sync::Arc;

use cudarc::cublas::{CudaBlas, Gemm as _, GemmConfig};
use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, LaunchConfig, PushKernelArg as _};
use harness::catalogue::{Kernel, Params};
use harness::kernels::Inputs;
use harness::schema::AdapterReport;

use super::{Backend, Prepared, Probe};

static KERNELS_CU: &str = include_str!("cuda_kernels.cu");

/// Kernels this backend implements; the rest are skipped with that said.
const IMPLEMENTED: [&str; 6] = ["matmul-f32", "softmax", "gelu-tanh", "gelu-erf", "layernorm", "rmsnorm"];

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
    for f in ["gelu_tanh", "gelu_erf", "softmax", "rownorm"] {
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
            name: d.name.clone(),
            vendor: "0x10de".into(),
            device: String::new(),
            backend: "cuda".into(),
            device_type: "discretegpu".into(),
            driver: "cuda".into(),
            driver_info: String::new(),
            fallback: false,
            is_fallback_adapter: None,
            features: vec![],
            limits: Default::default(),
        })
    }

    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String> {
        let dev = self.device().map_err(|e| format!("CUDA unavailable: {e}"))?;
        if !IMPLEMENTED.contains(&kernel.id) {
            return Err(format!("native-cuda implements {} so far, not {}", IMPLEMENTED.join(", "), kernel.id));
        }
        let s = &dev.stream;
        let up = |v: &[f32]| s.clone_htod(v).map_err(|e| e.to_string());
        let x = up(&inputs.f32s[0])?;
        let job = match kernel.id {
            "matmul-f32" => {
                let d = [p.usize("m"), p.usize("n"), p.usize("k"), p.usize("batch")];
                let b = up(&inputs.f32s[1])?;
                let c = s.alloc_zeros::<f32>(d[0] * d[1] * d[3]).map_err(|e| e.to_string())?;
                Job::Matmul { a: x, b, c, d }
            }
            "softmax" | "layernorm" | "rmsnorm" => {
                let (rows, cols) = (p.usize("rows"), p.usize("cols"));
                let y = s.alloc_zeros::<f32>(rows * cols).map_err(|e| e.to_string())?;
                let (g, b) = if kernel.id == "softmax" {
                    (None, None)
                } else {
                    (Some(up(&inputs.f32s[1])?), Some(up(&inputs.f32s[2])?))
                };
                Job::Rows { x, g, b, y, rows, cols, op: kernel.id }
            }
            _ => {
                let y = s.alloc_zeros::<f32>(inputs.f32s[0].len()).map_err(|e| e.to_string())?;
                Job::Gelu { x, y, erf: kernel.id == "gelu-erf" }
            }
        };
        Ok(Box::new(CudaRun { stream: s.clone(), blas: dev.blas.clone(), funcs: dev.funcs.clone(), job }))
    }
}

enum Job {
    Matmul {
        a: CudaSlice<f32>,
        b: CudaSlice<f32>,
        c: CudaSlice<f32>,
        d: [usize; 4],
    },
    Rows {
        x: CudaSlice<f32>,
        g: Option<CudaSlice<f32>>,
        b: Option<CudaSlice<f32>>,
        y: CudaSlice<f32>,
        rows: usize,
        cols: usize,
        op: &'static str,
    },
    Gelu {
        x: CudaSlice<f32>,
        y: CudaSlice<f32>,
        erf: bool,
    },
}

struct CudaRun {
    stream: Arc<CudaStream>,
    blas: Arc<CudaBlas>,
    funcs: std::collections::HashMap<&'static str, CudaFunction>,
    job: Job,
}

// cudarc's handles are Send + Sync; the run is used from one thread at a time.
impl Prepared for CudaRun {
    fn run(&mut self) {
        let rows_cfg =
            |rows: usize| LaunchConfig { grid_dim: (rows as u32, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
        #[allow(unsafe_code)]
        match &mut self.job {
            Job::Matmul { a, b, c, d } => {
                let [m, n, k, batch] = *d;
                for bi in 0..batch {
                    // Row-major C = A B is column-major C^T = B^T A^T: call cuBLAS with B first.
                    let cfg = GemmConfig {
                        transa: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
                        transb: cudarc::cublas::sys::cublasOperation_t::CUBLAS_OP_N,
                        m: n as i32,
                        n: m as i32,
                        k: k as i32,
                        alpha: 1.0f32,
                        lda: n as i32,
                        ldb: k as i32,
                        beta: 0.0f32,
                        ldc: n as i32,
                    };
                    let (bs, as_, mut cs) = (b.slice(bi * k * n..), a.slice(bi * m * k..), c.slice_mut(bi * m * n..));
                    // SAFETY: the slices hold k*n, m*k and m*n elements from the offsets above, which
                    // is exactly what this configuration reads and writes.
                    unsafe { self.blas.gemm(cfg, &bs, &as_, &mut cs) }.expect("cuBLAS sgemm");
                }
            }
            Job::Rows { x, g, b, y, rows, cols, op } => {
                let cols32 = *cols as u32;
                if *op == "softmax" {
                    let f = &self.funcs["softmax"];
                    // SAFETY: softmax reads rows*cols of x and writes as many of y, one block per row.
                    unsafe { self.stream.launch_builder(f).arg(&*x).arg(&mut *y).arg(&cols32).launch(rows_cfg(*rows)) }
                        .expect("softmax launch");
                } else {
                    let f = &self.funcs["rownorm"];
                    let rms: i32 = i32::from(*op == "rmsnorm");
                    let eps = 1e-5f32;
                    let (g, b) = (g.as_ref().expect("gamma"), b.as_ref().expect("beta"));
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
                    .expect("norm launch");
                }
            }
            Job::Gelu { x, y, erf } => {
                let n = x.len() as u32;
                let f = &self.funcs[if *erf { "gelu_erf" } else { "gelu_tanh" }];
                let cfg = LaunchConfig {
                    grid_dim: (n.div_ceil(256).min(65535), 1, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                };
                // SAFETY: the grid-stride loop touches indices below n = len of x and y.
                unsafe { self.stream.launch_builder(f).arg(&*x).arg(&mut *y).arg(&n).launch(cfg) }
                    .expect("gelu launch");
            }
        }
        self.stream.synchronize().expect("CUDA stream synchronize");
    }

    fn output(&self) -> Vec<f32> {
        let out = match &self.job {
            Job::Matmul { c, .. } => c,
            Job::Rows { y, .. } | Job::Gelu { y, .. } => y,
        };
        self.stream.clone_dtoh(out).expect("CUDA readback")
    }
}
