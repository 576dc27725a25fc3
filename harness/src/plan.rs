//! A GPU-agnostic description of one kernel run: the buffers with their initial contents, the
//! passes of dispatches, and which buffer holds the answer. Kernels build plans; `gpu` executes
//! them, so the dispatch logic is written once for native and browser. Buffers are bound by their
//! WGSL variable names and uniforms written by field name, both checked against the layout naga
//! reflected at build time ([`Plan::verify`]), so a plan that disagrees with its shader fails a
//! test rather than a run.

use crate::shaders::{GlobalKind, ScalarType, Shader};

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
    /// The shader holding the entry point; `None` is the plan's own. A model's plan chains entry
    /// points of several catalogue shaders over one set of buffers.
    pub shader: Option<&'static Shader>,
    pub entry_point: &'static str,
    /// (WGSL variable, buffer) pairs; variables the entry point does not use are dropped by the
    /// executor, so one list can serve every entry point of a shader.
    pub bindings: Vec<(&'static str, BufferId)>,
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
    /// Mismatches found while building (a uniform field the WGSL struct lacks); [`Plan::verify`]
    /// reports the first.
    errors: Vec<PlanError>,
    /// `dims` uniforms made by [`Plan::dispatch`], by shader and contents: calls with the same
    /// values (a model's layers) share one buffer.
    shared_dims: Vec<(&'static str, UniformFields, BufferId)>,
}

/// A uniform's fields by name.
pub type UniformFields = Vec<(&'static str, UniformValue)>;

/// One dispatch of a shader described by value: its `dims` uniform's fields, its storage
/// bindings and its grid. Every kernel family builds its dispatches as calls, so a kernel's own
/// plan and a model's lowering share entry points, binding names and grid formulas.
#[derive(Debug, Clone)]
pub struct Call {
    pub shader: &'static Shader,
    pub entry_point: &'static str,
    /// Fields of the shader's `dims` uniform.
    pub dims: UniformFields,
    /// Storage bindings (the `dims` binding is added by [`Plan::dispatch`]).
    pub bindings: Vec<(&'static str, BufferId)>,
    pub workgroups: [u32; 3],
}

/// A plan that does not match its shader's reflected bindings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{shader}: no entry point `{entry_point}`")]
    NoEntryPoint { shader: &'static str, entry_point: &'static str },
    #[error("{shader}: no bound variable `{name}` (bound ones: {known})")]
    NoGlobal { shader: &'static str, name: String, known: String },
    #[error("{shader}: `{name}` is bound twice in `{entry_point}`")]
    BoundTwice { shader: &'static str, entry_point: &'static str, name: &'static str },
    #[error("{shader}: `{entry_point}` uses `{name}` (binding {binding}) but the plan binds no buffer to it")]
    Unbound { shader: &'static str, entry_point: &'static str, name: &'static str, binding: u32 },
    #[error("{shader}: `{name}` is a {wgsl} buffer in WGSL but the plan binds {buffer} `{label}` to it")]
    WrongKind { shader: &'static str, name: &'static str, wgsl: &'static str, buffer: &'static str, label: String },
    #[error(
        "{shader}: storage buffer `{label}` bound to `{name}` is {bytes} bytes, not a multiple of its {stride}-byte elements"
    )]
    Stride { shader: &'static str, name: &'static str, label: String, bytes: u64, stride: u32 },
    #[error("{shader}: uniform `{name}`: {problem}")]
    Uniform { shader: &'static str, name: String, problem: String },
}

/// A uniform field's value; the reflected field type must match.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UniformValue {
    U32(u32),
    I32(i32),
    F32(f32),
}

impl From<u32> for UniformValue {
    fn from(v: u32) -> Self {
        UniformValue::U32(v)
    }
}

impl From<f32> for UniformValue {
    fn from(v: f32) -> Self {
        UniformValue::F32(v)
    }
}

impl From<i32> for UniformValue {
    fn from(v: i32) -> Self {
        UniformValue::I32(v)
    }
}

impl UniformValue {
    fn ty(self) -> ScalarType {
        match self {
            UniformValue::U32(_) => ScalarType::U32,
            UniformValue::I32(_) => ScalarType::I32,
            UniformValue::F32(_) => ScalarType::F32,
        }
    }

    fn bytes(self) -> [u8; 4] {
        match self {
            UniformValue::U32(v) => v.to_le_bytes(),
            UniformValue::I32(v) => v.to_le_bytes(),
            UniformValue::F32(v) => v.to_le_bytes(),
        }
    }
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
            errors: Vec::new(),
            shared_dims: Vec::new(),
        }
    }

    /// The uniform buffer for the WGSL variable `var`, every field of its struct given by name and
    /// written at the offset naga laid out. A missing, unknown or mistyped field is recorded and
    /// reported by [`Plan::verify`].
    pub fn uniform(&mut self, var: &str, fields: &[(&str, UniformValue)]) -> BufferId {
        self.uniform_labelled(var, var, fields)
    }

    /// As [`Plan::uniform`], for one of several buffers bound to the same variable in turn.
    pub fn uniform_labelled(&mut self, var: &str, label: &str, fields: &[(&str, UniformValue)]) -> BufferId {
        self.uniform_in(self.shader, var, label, fields)
    }

    /// As [`Plan::uniform_labelled`], for a variable of `shader` rather than the plan's own.
    pub fn uniform_in(
        &mut self,
        shader: &'static Shader,
        var: &str,
        label: &str,
        fields: &[(&str, UniformValue)],
    ) -> BufferId {
        let bytes = match layout_uniform(shader, var, fields) {
            Ok(b) => b,
            Err(e) => {
                self.errors.push(e);
                Vec::new()
            }
        };
        self.push(label, BufferInit::Uniform(pad16(bytes)))
    }

    /// The dispatch of `call`, its `dims` uniform written (or shared with an earlier call of the
    /// same shader and values).
    pub fn dispatch(&mut self, call: Call) -> Dispatch {
        let file = call.shader.file;
        let found = self.shared_dims.iter().find(|(f, d, _)| *f == file && *d == call.dims).map(|e| e.2);
        let dims = match found {
            Some(id) => id,
            None => {
                let label = if file == self.shader.file { "dims".to_owned() } else { format!("{file}:dims") };
                let id = self.uniform_in(call.shader, "dims", &label, &call.dims);
                self.shared_dims.push((file, call.dims, id));
                id
            }
        };
        let mut bindings = call.bindings;
        bindings.insert(0, ("dims", dims));
        Dispatch { shader: Some(call.shader), entry_point: call.entry_point, bindings, workgroups: call.workgroups }
    }

    /// A pass of the dispatches of `calls`.
    pub fn pass(&mut self, label: &str, calls: Vec<Call>) -> Pass {
        Pass { label: label.to_owned(), dispatches: calls.into_iter().map(|c| self.dispatch(c)).collect() }
    }

    /// The shader a dispatch runs.
    pub fn shader_of(&self, d: &Dispatch) -> &'static Shader {
        d.shader.unwrap_or(self.shader)
    }

    /// Every shader the plan's dispatches use, the plan's own first, each once.
    pub fn shaders(&self) -> Vec<&'static Shader> {
        let mut out = vec![self.shader];
        for d in self.setup.iter().chain(&self.timed).flat_map(|p| &p.dispatches) {
            let s = self.shader_of(d);
            if !out.iter().any(|o| o.file == s.file) {
                out.push(s);
            }
        }
        out
    }

    /// Checks every dispatch against the shader's reflection: the entry point exists, each bound
    /// name is a variable of the right kind (uniform or storage) with a buffer of a whole number
    /// of its elements, and every variable the entry point uses has a buffer.
    pub fn verify(&self) -> Result<(), PlanError> {
        if let Some(e) = self.errors.first() {
            return Err(e.clone());
        }
        for d in self.setup.iter().chain(&self.timed).flat_map(|p| &p.dispatches) {
            let wgsl = self.shader_of(d);
            let shader = wgsl.file;
            let ep = wgsl
                .entry_point(d.entry_point)
                .ok_or(PlanError::NoEntryPoint { shader, entry_point: d.entry_point })?;
            for (i, &(name, id)) in d.bindings.iter().enumerate() {
                if d.bindings[..i].iter().any(|(n, _)| *n == name) {
                    return Err(PlanError::BoundTwice { shader, entry_point: d.entry_point, name });
                }
                let g = global(wgsl, name)?;
                let buf = &self.buffers[id];
                let wrong =
                    |wgsl, buffer| PlanError::WrongKind { shader, name, wgsl, buffer, label: buf.label.clone() };
                match (&g.kind, &buf.init) {
                    (GlobalKind::Uniform { size, .. }, BufferInit::Uniform(b)) => {
                        if (b.len() as u64) < u64::from(*size) {
                            return Err(PlanError::Uniform {
                                shader,
                                name: name.into(),
                                problem: format!("buffer `{}` is {} bytes, the struct {size}", buf.label, b.len()),
                            });
                        }
                    }
                    (GlobalKind::Uniform { .. }, _) => return Err(wrong("uniform", "the storage buffer")),
                    (GlobalKind::Storage { .. }, BufferInit::Uniform(_)) => {
                        return Err(wrong("storage", "the uniform buffer"));
                    }
                    (GlobalKind::Storage { stride, .. }, _) => {
                        let bytes = buf.size();
                        if *stride > 0 && !bytes.is_multiple_of(u64::from(*stride)) {
                            return Err(PlanError::Stride {
                                shader,
                                name,
                                label: buf.label.clone(),
                                bytes,
                                stride: *stride,
                            });
                        }
                    }
                }
            }
            for g in wgsl.globals.iter().filter(|g| ep.bindings.contains(&g.binding)) {
                if !d.bindings.iter().any(|(n, _)| *n == g.name) {
                    return Err(PlanError::Unbound {
                        shader,
                        entry_point: d.entry_point,
                        name: g.name,
                        binding: g.binding,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn storage_f32(&mut self, label: &str, data: &[f32]) -> BufferId {
        self.storage_bytes(label, bytemuck::cast_slice(data).to_vec())
    }

    /// Re-encodes an f32 plan for its shader's fp16 storage: every buffer bound to a global whose
    /// elements are f16 (naga's reflection) holds its values as f16, outputs and scratch take
    /// half the bytes, and an f16 checked output is read as such. Buffers bound only to f32
    /// globals (cos/sin tables, page tables, logits, partial sums) are left as they are.
    pub fn to_half(&mut self) {
        let mut half = vec![false; self.buffers.len()];
        for d in self.setup.iter().chain(&self.timed).flat_map(|p| &p.dispatches) {
            let shader = d.shader.unwrap_or(self.shader);
            for &(name, buf) in &d.bindings {
                let g = shader.globals.iter().find(|g| g.name == name);
                if let Some(GlobalKind::Storage { half: true, .. }) = g.map(|g| &g.kind) {
                    half[buf] = true;
                }
            }
        }
        for (b, _) in self.buffers.iter_mut().zip(&half).filter(|(_, h)| **h) {
            b.init = match std::mem::replace(&mut b.init, BufferInit::Scratch { bytes: 0 }) {
                BufferInit::Storage(bytes) => {
                    // Byte-wise: a Vec<u8> need not be aligned for f32.
                    let f16: Vec<u8> = bytes
                        .chunks_exact(4)
                        .flat_map(|c| half::f16::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes())
                        .collect();
                    BufferInit::Storage(pad4(f16))
                }
                BufferInit::Output { bytes } => BufferInit::Output { bytes: bytes.div_ceil(2).next_multiple_of(4) },
                BufferInit::Scratch { bytes } => BufferInit::Scratch { bytes: bytes.div_ceil(2).next_multiple_of(4) },
                u @ BufferInit::Uniform(_) => u,
            };
        }
        if half[self.output] {
            self.output_type = OutputType::F16;
        }
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

fn layout_uniform(shader: &'static Shader, var: &str, fields: &[(&str, UniformValue)]) -> Result<Vec<u8>, PlanError> {
    let problem = |problem: String| PlanError::Uniform { shader: shader.file, name: var.to_owned(), problem };
    let global = global(shader, var)?;
    let GlobalKind::Uniform { size, fields: layout } = &global.kind else {
        return Err(problem("is a storage buffer in WGSL, not a uniform".into()));
    };
    let mut bytes = vec![0u8; *size as usize];
    for f in layout.iter() {
        let Some((_, v)) = fields.iter().find(|(n, _)| *n == f.name) else {
            return Err(problem(format!("field `{}` ({:?}) is not given", f.name, f.ty)));
        };
        if v.ty() != f.ty {
            return Err(problem(format!("field `{}` is {:?} in WGSL but given as {:?}", f.name, f.ty, v.ty())));
        }
        bytes[f.offset as usize..f.offset as usize + 4].copy_from_slice(&v.bytes());
    }
    if let Some((extra, _)) = fields.iter().find(|(n, _)| layout.iter().all(|f| f.name != *n)) {
        let names: Vec<_> = layout.iter().map(|f| f.name).collect();
        return Err(problem(format!("has no field `{extra}` (fields: {})", names.join(", "))));
    }
    Ok(bytes)
}

fn global(shader: &'static Shader, name: &str) -> Result<&'static crate::shaders::Global, PlanError> {
    shader.global(name).ok_or_else(|| PlanError::NoGlobal {
        shader: shader.file,
        name: name.to_owned(),
        known: shader.globals.iter().map(|g| g.name).collect::<Vec<_>>().join(", "),
    })
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

/// Workgroups for a grid-stride loop over `n` items, 256 per workgroup: enough to fill a large
/// GPU, the loop covers the rest.
pub fn grid_stride(n: usize) -> [u32; 3] {
    [(n as u32).div_ceil(256).clamp(1, 4096), 1, 1]
}

/// How a row-wise kernel maps its rows onto the grid, which is what its variants differ in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowLayout {
    /// One workgroup per row: its invocations share the row and reduce in workgroup memory.
    Workgroup,
    /// One invocation per row, [`ROWS_PER_INVOCATION_WG`] rows a workgroup: no barriers.
    Invocation,
}

/// Workgroup size (and rows per workgroup) of the one-invocation-per-row shaders.
pub const ROWS_PER_INVOCATION_WG: u32 = 64;

impl RowLayout {
    pub fn grid(self, rows: u32) -> [u32; 3] {
        match self {
            RowLayout::Workgroup => rows_grid(rows),
            RowLayout::Invocation => rows_grid(rows.div_ceil(ROWS_PER_INVOCATION_WG)),
        }
    }
}

/// Workgroup counts for `n` items of `per` each, spread over y when x would exceed the 65535
/// per-dimension limit (shaders recombine as `wg.x + wg.y * 65535`).
pub fn rows_grid(n: u32) -> [u32; 3] {
    if n <= 65535 { [n.max(1), 1, 1] } else { [65535, n.div_ceil(65535), 1] }
}
