//! The native backends behind one interface: probe (available, or why not and how to fix it),
//! prepare a catalogue entry, run it. Every backend's output is checked against the CPU reference
//! before it is timed, and every outcome is a schema v1 record with the same provenance.

pub mod cpu;
mod cpu_grad;
pub mod cpu_model;
pub mod cpu_train;
pub mod cuda;
mod ir;
pub mod openvino;

pub use cuda::Cuda;
pub use openvino::OpenVino;

use harness::catalogue::{Kernel, Params};
use harness::kernels::Inputs;
use harness::schema::AdapterReport;

pub use harness::host::Prepared;

/// Whether a backend can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Available { device: String },
    Unavailable { reason: String, fix: String },
}

pub trait Backend {
    /// The record's `backend` label, e.g. `native-cpu`.
    fn name(&self) -> &'static str;
    fn probe(&self) -> Probe;
    /// The device the records describe, where there is one beyond the host CPU.
    fn adapter(&self) -> Option<AdapterReport> {
        None
    }
    /// A ready-to-run kernel, or why this backend cannot run it (a `skipped` reason).
    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String>;
}

/// Multi-threaded native CPU code.
#[derive(Debug)]
pub struct Cpu;

impl Backend for Cpu {
    fn name(&self) -> &'static str {
        "native-cpu"
    }
    fn probe(&self) -> Probe {
        Probe::Available { device: format!("{} rayon threads", rayon::current_num_threads()) }
    }
    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String> {
        cpu::prepare(kernel, p, inputs).ok_or_else(|| format!("native-cpu has no implementation of {}", kernel.id))
    }
}

/// ROCm (HIP): probed through its runtime library; no kernels yet, so even where HIP exists the
/// records say so rather than pretend.
#[derive(Debug)]
pub struct Rocm;

impl Backend for Rocm {
    fn name(&self) -> &'static str {
        "native-rocm"
    }
    fn probe(&self) -> Probe {
        for lib in ["libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"] {
            if let Some(path) = find_library(lib) {
                return Probe::Unavailable {
                    reason: format!("HIP runtime found at {path}, but accelbench has no ROCm kernels yet"),
                    fix: "use the wgpu Vulkan adapter (RADV) for AMD GPUs meanwhile".into(),
                };
            }
        }
        Probe::Unavailable {
            reason: "no HIP runtime (libamdhip64.so) on the library path".into(),
            fix: "install ROCm (https://rocm.docs.amd.com) on a machine with an AMD GPU".into(),
        }
    }
    fn prepare(&self, _k: &Kernel, _p: &Params, _i: &Inputs) -> Result<Box<dyn Prepared>, String> {
        Err(probe_reason(&self.probe()))
    }
}

/// Metal Performance Shaders: only on Apple machines, where the wgpu Metal adapter is the GPU path.
#[derive(Debug)]
pub struct Mps;

impl Backend for Mps {
    fn name(&self) -> &'static str {
        "native-mps"
    }
    fn probe(&self) -> Probe {
        if cfg!(target_os = "macos") {
            Probe::Unavailable {
                reason: "accelbench has no MPS kernels yet".into(),
                fix: "the wgpu Metal adapter (`native-wgpu-metal`) runs the same WGSL on this Mac's GPU".into(),
            }
        } else {
            Probe::Unavailable {
                reason: format!("MPS exists only on macOS; this is {}", std::env::consts::OS),
                fix: "run on an Apple machine; there the wgpu Metal adapter is the GPU path".into(),
            }
        }
    }
    fn prepare(&self, _k: &Kernel, _p: &Params, _i: &Inputs) -> Result<Box<dyn Prepared>, String> {
        Err(probe_reason(&self.probe()))
    }
}

pub fn probe_reason(p: &Probe) -> String {
    match p {
        Probe::Available { device } => format!("available ({device})"),
        Probe::Unavailable { reason, fix } => format!("{reason}; fix: {fix}"),
    }
}

/// Searches the usual library directories and LD_LIBRARY_PATH for a shared library file.
pub fn find_library(name: &str) -> Option<String> {
    let mut dirs: Vec<String> =
        std::env::var("LD_LIBRARY_PATH").unwrap_or_default().split(':').map(str::to_owned).collect();
    dirs.extend(
        [
            "/usr/lib",
            "/usr/lib64",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/local/lib",
            "/opt/rocm/lib",
            "/usr/local/cuda/lib64",
            "/usr/local/nvidia/lib64",
        ]
        .map(str::to_owned),
    );
    dirs.into_iter().filter(|d| !d.is_empty()).map(|d| format!("{d}/{name}")).find(|p| std::path::Path::new(p).exists())
}
