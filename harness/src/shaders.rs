//! The precompiled WGSL kernels: `build.rs` validates every file in `shaders/` with naga and
//! embeds the expanded source, its content hash, its declared requirements and, per entry point,
//! the workgroup size and the bindings it uses.

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

include!(concat!(env!("OUT_DIR"), "/shaders.rs"));

impl Shader {
    pub fn entry_point(&self, name: &str) -> Option<&'static EntryPoint> {
        self.entry_points.iter().find(|e| e.name == name)
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
