//! A GPU-agnostic description of one kernel run: the buffers with their initial contents, the
//! passes of dispatches, and which buffer holds the answer. Kernels build plans; `gpu` executes
//! them, so the dispatch logic is written once for native and browser.

use crate::shaders::Shader;

/// Index into [`Plan::buffers`].
pub type BufferId = usize;

#[derive(Debug)]
pub enum BufferInit {
    /// Read by shaders; uploaded once.
    Uniform(Vec<u8>),
    Storage(Vec<u8>),
    /// Written by shaders. Filled with NaN before the checked run, so elements a kernel forgets
    /// to write show up as mismatches instead of stale zeros.
    Output {
        bytes: u64,
    },
    /// Intermediate data; contents undefined.
    Scratch {
        bytes: u64,
    },
}

#[derive(Debug)]
pub struct BufferDesc {
    pub label: String,
    pub init: BufferInit,
}

impl BufferDesc {
    pub fn size(&self) -> u64 {
        match &self.init {
            BufferInit::Uniform(b) | BufferInit::Storage(b) => b.len() as u64,
            BufferInit::Output { bytes } | BufferInit::Scratch { bytes } => *bytes,
        }
    }
}

#[derive(Debug)]
pub struct Dispatch {
    pub entry_point: &'static str,
    /// (binding, buffer) pairs; bindings the entry point does not use are dropped by the executor.
    pub bindings: Vec<(u32, BufferId)>,
    pub workgroups: [u32; 3],
}

/// Dispatches recorded into one compute pass; passes are the unit of GPU timestamp timing.
#[derive(Debug)]
pub struct Pass {
    pub label: String,
    pub dispatches: Vec<Dispatch>,
}

/// Element type of the checked output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputType {
    F32,
    F16,
}

#[derive(Debug)]
pub struct Plan {
    pub shader: &'static Shader,
    pub buffers: Vec<BufferDesc>,
    /// Run once before timing (e.g. a KV-cache prefill for a decode step); never timed.
    pub setup: Vec<Pass>,
    /// The measured work. Re-running it must be idempotent (same inputs, same outputs).
    pub timed: Vec<Pass>,
    pub output: BufferId,
    pub output_type: OutputType,
    pub output_len: usize,
}

impl Plan {
    pub fn new(shader: &'static Shader) -> Self {
        Plan {
            shader,
            buffers: Vec::new(),
            setup: Vec::new(),
            timed: Vec::new(),
            output: 0,
            output_type: OutputType::F32,
            output_len: 0,
        }
    }

    pub fn uniform(&mut self, label: &str, bytes: Vec<u8>) -> BufferId {
        self.push(label, BufferInit::Uniform(pad16(bytes)))
    }

    pub fn storage_f32(&mut self, label: &str, data: &[f32]) -> BufferId {
        self.storage_bytes(label, bytemuck::cast_slice(data).to_vec())
    }

    pub fn storage_bytes(&mut self, label: &str, bytes: Vec<u8>) -> BufferId {
        self.push(label, BufferInit::Storage(pad4(bytes)))
    }

    pub fn scratch(&mut self, label: &str, bytes: u64) -> BufferId {
        self.push(label, BufferInit::Scratch { bytes: bytes.max(4).next_multiple_of(4) })
    }

    /// The buffer the check reads: `len` elements of `ty`.
    pub fn output(&mut self, label: &str, len: usize, ty: OutputType) -> BufferId {
        let elem = match ty {
            OutputType::F32 => 4,
            OutputType::F16 => 2,
        };
        let id = self.push(label, BufferInit::Output { bytes: ((len * elem) as u64).max(4).next_multiple_of(4) });
        self.output = id;
        self.output_type = ty;
        self.output_len = len;
        id
    }

    fn push(&mut self, label: &str, init: BufferInit) -> BufferId {
        self.buffers.push(BufferDesc { label: label.to_owned(), init });
        self.buffers.len() - 1
    }

    /// Largest single buffer, for the `max_storage_buffer_binding_size` requirement.
    pub fn largest_buffer(&self) -> u64 {
        self.buffers.iter().map(BufferDesc::size).max().unwrap_or(0)
    }
}

/// Uniform buffers must be a multiple of 16 bytes.
fn pad16(mut b: Vec<u8>) -> Vec<u8> {
    b.resize(b.len().max(16).next_multiple_of(16), 0);
    b
}

/// Buffer copies and sizes must be multiples of 4 bytes.
fn pad4(mut b: Vec<u8>) -> Vec<u8> {
    b.resize(b.len().max(4).next_multiple_of(4), 0);
    b
}

/// Packs u32/f32 uniform fields in declaration order (all our uniform structs are 4-byte scalars).
#[derive(Debug, Default)]
pub struct UniformWriter(Vec<u8>);

impl UniformWriter {
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn f32(mut self, v: f32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Workgroup counts for `n` items of `per` each, spread over y when x would exceed the 65535
/// per-dimension limit (shaders recombine as `wg.x + wg.y * 65535`).
pub fn rows_grid(n: u32) -> [u32; 3] {
    if n <= 65535 { [n.max(1), 1, 1] } else { [65535, n.div_ceil(65535), 1] }
}
