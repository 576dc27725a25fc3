//! Precompiles `shaders/`: expands `//!include` lines, parses and validates every kernel with
//! naga under the capabilities its `// requires:` line declares, checks device limits naga does
//! not, and embeds the result with a content hash. A bad shader fails the build at file:line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use naga::valid::{Capabilities, ValidationFlags, Validator};
use sha2::{Digest, Sha256};

/// The WebGPU default `maxComputeInvocationsPerWorkgroup`; naga accepts more, browsers do not.
const MAX_INVOCATIONS: u32 = 256;

/// One line of preprocessed output, traced back to where it was written.
#[derive(Clone)]
struct Origin {
    file: PathBuf,
    line: u32,
}

struct Expanded {
    text: String,
    origins: Vec<Origin>,
}

fn expand(path: &Path, depth: u32) -> Result<Expanded, String> {
    if depth > 4 {
        return Err(format!("{}: includes nested deeper than 4", path.display()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Expanded { text: String::new(), origins: Vec::new() };
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.trim().strip_prefix("//!include ") {
            let inc = path.parent().unwrap().join(rest.trim());
            let sub = expand(&inc, depth + 1).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
            out.text.push_str(&sub.text);
            out.origins.extend(sub.origins);
        } else {
            out.text.push_str(line);
            out.text.push('\n');
            out.origins.push(Origin { file: path.to_owned(), line: i as u32 + 1 });
        }
    }
    Ok(out)
}

fn requires(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// requires:"))
        .flat_map(|r| r.split(',').map(|s| s.trim().to_owned()))
        .filter(|s| !s.is_empty())
        .collect()
}

fn capabilities(file: &Path, reqs: &[String]) -> Result<Capabilities, String> {
    let mut caps = Capabilities::empty();
    for r in reqs {
        caps |= match r.as_str() {
            "shader-f16" => Capabilities::SHADER_FLOAT16,
            "subgroups" => Capabilities::SUBGROUP | Capabilities::SUBGROUP_BARRIER,
            // A WGSL language extension, not a device feature: naga implements it without a
            // capability; whether the executing implementation has it is checked at run time.
            "packed_4x8_integer_dot_product" => Capabilities::empty(),
            other => {
                return Err(format!(
                    "{}: unknown requirement `{other}` in `// requires:` (known: shader-f16, subgroups, \
                     packed_4x8_integer_dot_product)",
                    file.display()
                ));
            }
        };
    }
    Ok(caps)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn fail(
    root: &Path,
    kernel: &Path,
    origins: &[Origin],
    loc: Option<naga::SourceLocation>,
    what: &str,
    detail: &str,
) -> String {
    let at = match loc.and_then(|l| origins.get(l.line_number as usize - 1).map(|o| (o, l))) {
        Some((o, l)) if o.file != kernel => format!(
            "{}:{}:{} (included by {}; the excerpt below shows the expanded source)",
            rel(root, &o.file),
            o.line,
            l.line_position,
            rel(root, kernel)
        ),
        Some((o, l)) => format!("{}:{}:{}", rel(root, &o.file), o.line, l.line_position),
        None => rel(root, kernel),
    };
    format!("{at}: {what}\n{detail}")
}

/// The Rust spelling of a 4-byte scalar, as `harness::shaders::ScalarType`.
fn scalar_type(s: naga::Scalar) -> Option<&'static str> {
    use naga::ScalarKind::{Float, Sint, Uint};
    match (s.kind, s.width) {
        (Uint, 4) => Some("U32"),
        (Sint, 4) => Some("I32"),
        (Float, 4) => Some("F32"),
        _ => None,
    }
}

/// Every bound global as `harness::shaders::Global` literals: name, binding, and what a plan
/// must give it (a uniform's field names, offsets and types; a storage array's element stride),
/// so plans bind buffers by name and write uniforms by field, checked against the WGSL.
fn reflect_globals(module: &naga::Module) -> Result<String, String> {
    let mut out = String::new();
    for (_, g) in module.global_variables.iter() {
        let Some(binding) = &g.binding else { continue };
        let name = g.name.clone().unwrap_or_default();
        if binding.group != 0 {
            return Err(format!("`{name}` is in bind group {}; plans bind group 0 only", binding.group));
        }
        let ty = &module.types[g.ty].inner;
        let kind = match g.space {
            naga::AddressSpace::Uniform => {
                let naga::TypeInner::Struct { members, span } = ty else {
                    return Err(format!("uniform `{name}` must be a struct of 4-byte scalars"));
                };
                let mut fields = String::new();
                for m in members {
                    let field = m.name.clone().unwrap_or_default();
                    let st = match module.types[m.ty].inner {
                        naga::TypeInner::Scalar(s) => scalar_type(s),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        format!(
                            "uniform `{name}` field `{field}` is not a u32, i32 or f32 (plans write 4-byte scalars)"
                        )
                    })?;
                    let _ = write!(fields, "Field {{ name: {field:?}, offset: {}, ty: ScalarType::{st} }}, ", m.offset);
                }
                format!("GlobalKind::Uniform {{ size: {span}, fields: &[{fields}] }}")
            }
            naga::AddressSpace::Storage { access } => {
                let (stride, half) = match ty {
                    naga::TypeInner::Array { stride, base, .. } => {
                        let scalar = match module.types[*base].inner {
                            naga::TypeInner::Scalar(s) | naga::TypeInner::Vector { scalar: s, .. } => Some(s),
                            _ => None,
                        };
                        (*stride, scalar.is_some_and(|s| s.kind == naga::ScalarKind::Float && s.width == 2))
                    }
                    _ => (0, false),
                };
                let writable = access.contains(naga::StorageAccess::STORE);
                format!("GlobalKind::Storage {{ writable: {writable}, stride: {stride}, half: {half} }}")
            }
            _ => return Err(format!("`{name}`: only uniform and storage buffers are supported")),
        };
        let _ = writeln!(out, "            Global {{ name: {name:?}, binding: {}, kind: {kind} }},", binding.binding);
    }
    Ok(out)
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_owned();
    // Overridable so a test can point the build at a deliberately broken shader.
    println!("cargo::rerun-if-env-changed=ACCELBENCH_SHADER_DIR");
    let shader_dir = std::env::var_os("ACCELBENCH_SHADER_DIR").map_or_else(|| root.join("shaders"), PathBuf::from);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo::rerun-if-changed={}", shader_dir.display());

    let mut files: Vec<PathBuf> = std::fs::read_dir(&shader_dir)
        .expect("shaders/ next to harness/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    files.sort();

    let mut errors = Vec::new();
    let mut table = String::from("&[\n");
    let mut includes = BTreeMap::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        println!("cargo::rerun-if-changed={}", path.display());
        if name.ends_with(".inc.wgsl") {
            // Fragments are validated as part of the kernels that include them.
            includes.insert(name, ());
            continue;
        }
        let ex = match expand(path, 0) {
            Ok(e) => e,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let reqs = requires(&ex.text);
        let caps = match capabilities(path, &reqs) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let module = match naga::front::wgsl::parse_str(&ex.text) {
            Ok(m) => m,
            Err(e) => {
                let detail = e.emit_to_string_with_path(&ex.text, &rel(&root, path));
                errors.push(fail(&root, path, &ex.origins, e.location(&ex.text), e.message(), &detail));
                continue;
            }
        };
        let info = match Validator::new(ValidationFlags::all(), caps).validate(&module) {
            Ok(i) => i,
            Err(e) => {
                let detail = e.emit_to_string_with_path(&ex.text, &rel(&root, path));
                let msg = e.to_string();
                errors.push(fail(&root, path, &ex.origins, e.location(&ex.text), &msg, &detail));
                continue;
            }
        };

        let mut eps = String::new();
        for (i, ep) in module.entry_points.iter().enumerate() {
            if ep.stage != naga::ShaderStage::Compute {
                continue;
            }
            let [x, y, z] = ep.workgroup_size;
            if ep.workgroup_size_overrides.is_some() {
                errors.push(format!(
                    "{}: entry point `{}`: workgroup sizes must be constants (the catalogue dispatches by them)",
                    rel(&root, path),
                    ep.name
                ));
            }
            if x * y * z > MAX_INVOCATIONS {
                errors.push(format!(
                    "{}: entry point `{}`: workgroup_size({x}, {y}, {z}) = {} invocations exceeds the WebGPU default limit of {MAX_INVOCATIONS}",
                    rel(&root, path),
                    ep.name,
                    x * y * z
                ));
            }
            let uses = info.get_entry_point(i);
            let mut bindings: Vec<u32> = module
                .global_variables
                .iter()
                .filter(|(h, _)| !uses[*h].is_empty())
                .filter_map(|(_, g)| g.binding.as_ref().map(|b| b.binding))
                .collect();
            bindings.sort();
            let _ = writeln!(
                eps,
                "            EntryPoint {{ name: {:?}, workgroup_size: [{x}, {y}, {z}], bindings: &{bindings:?} }},",
                ep.name
            );
        }

        let globals = match reflect_globals(&module) {
            Ok(g) => g,
            Err(e) => {
                errors.push(format!("{}: {e}", rel(&root, path)));
                continue;
            }
        };

        let hash = Sha256::digest(ex.text.as_bytes());
        let hash: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let out_file = out_dir.join(&name);
        std::fs::write(&out_file, &ex.text).unwrap();
        let _ = writeln!(
            table,
            "    Shader {{\n        file: {name:?},\n        source: include_str!({:?}),\n        hash: {hash:?},\n        requires: &{reqs:?},\n        globals: &[\n{globals}        ],\n        entry_points: &[\n{eps}        ],\n    }},",
            out_file.display().to_string()
        );
    }
    table.push(']');

    if !errors.is_empty() {
        for e in &errors {
            let first = e.lines().next().unwrap_or_default();
            println!("cargo::error=invalid shader: {first}");
            eprintln!("{e}\n");
        }
        std::process::exit(1);
    }
    let includes: Vec<_> = includes.keys().collect();
    std::fs::write(
        out_dir.join("shaders.rs"),
        format!("pub static SHADERS: &[Shader] = {table};\npub static INCLUDES: &[&str] = &{includes:?};\n"),
    )
    .unwrap();
}
