//! The precompiled WGSL kernels: `build.rs` validates every file in `shaders/` with naga and
//! embeds the expanded source, its content hash, its declared requirements and, per entry point,
//! the workgroup size and the bindings it uses, and the reflected bound globals (name, binding,
//! uniform layout, storage stride) that plans are checked against.

/// One validated shader module.
#[derive(Debug)]
pub struct Shader {
    /// File name under `shaders/`.
    pub file: &'static str,
    /// Source after `//!include` expansion: exactly what was validated and what the GPU compiles.
    pub source: &'static str,
    /// First 16 hex digits of the SHA-256 of `source`; every result record carries it.
    pub hash: &'static str,
    /// Features from the file's `// requires:` line (WebGPU feature names).
    pub requires: &'static [&'static str],
    /// Every `@group(0) @binding(n)` variable, as naga laid it out.
    pub globals: &'static [Global],
    pub entry_points: &'static [EntryPoint],
}

/// A compute entry point as naga saw it.
#[derive(Debug)]
pub struct EntryPoint {
    pub name: &'static str,
    pub workgroup_size: [u32; 3],
    /// Binding numbers (group 0) the entry point statically uses; auto layouts contain only these.
    pub bindings: &'static [u32],
}

/// A bound global variable: what plans refer to by `name`.
#[derive(Debug)]
pub struct Global {
    pub name: &'static str,
    pub binding: u32,
    pub kind: GlobalKind,
}

#[derive(Debug, PartialEq, Eq)]
pub enum GlobalKind {
    /// `var<uniform>` of a struct of 4-byte scalars; `size` is the struct's span.
    Uniform { size: u32, fields: &'static [Field] },
    /// `var<storage, read>` or `var<storage, read_write>`; `stride` is the array element's size in
    /// bytes (0 when the variable is not an array); `half`: its elements are f16 (scalars or
    /// vectors), the storage of the fp16 variants.
    Storage { writable: bool, stride: u32, half: bool },
}

/// One member of a uniform struct.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: u32,
    pub ty: ScalarType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarType {
    U32,
    I32,
    F32,
}

include!(concat!(env!("OUT_DIR"), "/shaders.rs"));

impl Shader {
    pub fn entry_point(&self, name: &str) -> Option<&'static EntryPoint> {
        self.entry_points.iter().find(|e| e.name == name)
    }

    pub fn global(&self, name: &str) -> Option<&'static Global> {
        self.globals.iter().find(|g| g.name == name)
    }
}

/// The shader embedded from `shaders/<file>`.
///
/// # Panics
/// If no such file was precompiled; the catalogue names files statically and a tidy test checks
/// each one exists, so this is a programming error.
pub fn by_file(file: &str) -> &'static Shader {
    SHADERS
        .iter()
        .find(|s| s.file == file)
        .unwrap_or_else(|| panic!("shaders/{file} is not among the precompiled shaders"))
}
