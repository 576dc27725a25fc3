//! `native-openvino`: OpenVINO's CPU device, through the `openvino` crate with runtime linking.
//! Each kernel is an OpenVINO model built at run time from our parameters (IR written by `ir.rs`:
//! MatMul, SoftMax, Gelu, MVN, ScaledDotProductAttention, RDFT, ...), compiled for the CPU and
//! run with the same inputs, checked against the reference like every backend.
//! The runtime is looked up in `ACCELBENCH_OPENVINO_LIB`, the repo's `.venv-openvino` (what
//! `.ci/setup` installs from PyPI), the `openvino` Python package, then OpenVINO's own search.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use harness::catalogue::{DType, Kernel, Params};
use harness::host::{Prepared, RunError};
use harness::kernels::{Inputs, MelSetup, reflect_index};
use harness::op::{Op, RowsDims};
use harness::schema::AdapterReport;
use openvino::{Core, DeviceType, ElementType, InferRequest, RwPropertyKey, Shape, Tensor};

use super::ir::{Elem, Ir};
use super::{Backend, Probe};

#[derive(Debug, Default)]
pub struct OpenVino;

const FIX: &str = "`./x setup` installs it (PyPI wheel into .venv-openvino); or `pip install openvino` and set \
                   ACCELBENCH_OPENVINO_LIB to its openvino/libs directory";

/// `libopenvino_c.so*` in `dir`, if there.
fn c_library_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libopenvino_c.so")))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Where the OpenVINO C library is, by the search order in the module docs.
fn locate() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ACCELBENCH_OPENVINO_LIB").map(PathBuf::from) {
        return if p.is_dir() { c_library_in(&p) } else { Some(p) };
    }
    let venvs = [Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-openvino"), PathBuf::from(".venv-openvino")];
    for venv in venvs {
        if let Ok(entries) = std::fs::read_dir(venv.join("lib")) {
            for e in entries.flatten() {
                if let Some(l) = c_library_in(&e.path().join("site-packages/openvino/libs")) {
                    return Some(l);
                }
            }
        }
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import openvino, os; print(os.path.dirname(openvino.__file__))"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    c_library_in(&Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("libs"))
}

/// Loads the runtime once per process; the error says what is missing.
fn runtime() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| match locate() {
            Some(path) => {
                openvino_sys::library::load_from(&path).map_err(|e| format!("loading {} failed: {e}", path.display()))
            }
            // Last resort: OpenVINO's own search (LD_LIBRARY_PATH, INTEL_OPENVINO_DIR, ...).
            None => {
                openvino_sys::library::load().map_err(|_| "no OpenVINO runtime (libopenvino_c.so) found".to_owned())
            }
        })
        .clone()
}

/// Inference precision we ask for: on CPUs with bf16 or AMX, OpenVINO's default is bf16, whose
/// 8-bit mantissa fails every f32 tolerance; f32 is the precision the kernels are specified in.
const PRECISION: &str = "f32";

fn core() -> Result<Core, String> {
    runtime()?;
    let mut core = Core::new().map_err(|e| format!("OpenVINO Core::new failed: {e}"))?;
    core.set_property(&DeviceType::CPU, &RwPropertyKey::HintInferencePrecision, PRECISION)
        .map_err(|e| format!("setting INFERENCE_PRECISION_HINT={PRECISION}: {e}"))?;
    Ok(core)
}

impl Backend for OpenVino {
    fn name(&self) -> &'static str {
        "native-openvino"
    }

    fn probe(&self) -> Probe {
        match core().and_then(|c| {
            let v = c.versions("CPU").map_err(|e| format!("OpenVINO has no CPU device: {e}"))?;
            Ok(v.first().map_or_else(|| "CPU".to_owned(), |(_, v)| format!("CPU plugin {}", v.build_number)))
        }) {
            Ok(device) => Probe::Available { device: format!("OpenVINO {device}") },
            Err(reason) => Probe::Unavailable { reason, fix: FIX.into() },
        }
    }

    fn adapter(&self) -> Option<AdapterReport> {
        let Probe::Available { device } = self.probe() else { return None };
        Some(AdapterReport {
            driver_info: format!("INFERENCE_PRECISION_HINT={PRECISION}"),
            ..AdapterReport::runtime(device, "openvino", "cpu", "openvino")
        })
    }

    fn prepare(&self, kernel: &Kernel, p: &Params, inputs: &Inputs) -> Result<Box<dyn Prepared>, String> {
        let (ir, feeds) = build(kernel, p, inputs)?;
        let mut core = core()?;
        let mut weights = Tensor::new(ElementType::U8, &shape(&[ir.weights.len().max(1)])?).map_err(err)?;
        weights.get_raw_data_mut().map_err(err)?[..ir.weights.len()].copy_from_slice(&ir.weights);
        let model = core
            .read_model_from_buffer(ir.xml().as_bytes(), Some(&weights))
            .map_err(|e| format!("OpenVINO rejected the model: {e}"))?;
        let mut compiled =
            core.compile_model(&model, DeviceType::CPU).map_err(|e| format!("compiling for CPU: {e}"))?;
        let mut request = compiled.create_infer_request().map_err(err)?;
        for (i, feed) in feeds.iter().enumerate() {
            request.set_input_tensor_by_index(i, feed).map_err(err)?;
        }
        let half = kernel.imp.op(p).dtype() == DType::F16;
        Ok(Box::new(OvRun { request, half, _core: core }))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn shape(dims: &[usize]) -> Result<Shape, String> {
    Shape::new(&dims.iter().map(|&d| d as i64).collect::<Vec<_>>()).map_err(err)
}

fn tensor_f32(dims: &[usize], v: &[f32]) -> Result<Tensor, String> {
    let mut t = Tensor::new(ElementType::F32, &shape(dims)?).map_err(err)?;
    t.get_data_mut::<f32>().map_err(err)?.copy_from_slice(v);
    Ok(t)
}

fn tensor_f16(dims: &[usize], v: &[f32]) -> Result<Tensor, String> {
    let mut t = Tensor::new(ElementType::F16, &shape(dims)?).map_err(err)?;
    for (o, &x) in t.get_data_mut::<u16>().map_err(err)?.iter_mut().zip(v) {
        *o = half::f16::from_f32(x).to_bits();
    }
    Ok(t)
}

/// The model for a catalogue entry and its input tensors, in parameter order.
fn build(kernel: &Kernel, p: &Params, i: &Inputs) -> Result<(Ir, Vec<Tensor>), String> {
    let mut ir = Ir::default();
    let op = kernel.imp.op(p);
    // The fp16 variants other than matmul (which has native f16 inputs): f16 at the edges.
    let half = op.dtype() == DType::F16;
    ir.half_io = half && !matches!(op, Op::Matmul { .. });
    let tensor = |d: &[usize], v: &[f32]| if half { tensor_f16(d, v) } else { tensor_f32(d, v) };
    let feeds = match op {
        Op::Matmul { dims, dtype } => {
            let (m, n, k, b) = (dims.m, dims.n, dims.k, dims.batch);
            let half = dtype == DType::F16;
            let e = if half { Elem::F16 } else { Elem::F32 };
            let a = ir.param(e, &[b, m, k]);
            let bb = ir.param(e, &[b, k, n]);
            let c = ir.op("MatMul", "opset1", "transpose_a=\"false\" transpose_b=\"false\"", &[a, bb], &[b, m, n]);
            ir.result(c);
            let t = if half { tensor_f16 } else { tensor_f32 };
            vec![t(&[b, m, k], &i.matmul().a)?, t(&[b, k, n], &i.matmul().b)?]
        }
        Op::Softmax { dims: RowsDims { rows, cols }, .. } => {
            let a = ir.param(Elem::F32, &[rows, cols]);
            let y = ir.op("SoftMax", "opset8", "axis=\"-1\"", &[a], &[rows, cols]);
            ir.result(y);
            vec![tensor(&[rows, cols], &i.unary().x)?]
        }
        Op::Gelu { erf: false, .. } => {
            let n = i.unary().x.len();
            let a = ir.param(Elem::F32, &[n]);
            let y = ir.op("Gelu", "opset7", "approximation_mode=\"tanh\"", &[a], &[n]);
            ir.result(y);
            vec![tensor(&[n], &i.unary().x)?]
        }
        Op::Silu { len: n, .. } => {
            let a = ir.param(Elem::F32, &[n]);
            let y = ir.op("Swish", "opset4", "", &[a], &[n]);
            ir.result(y);
            vec![tensor(&[n], &i.unary().x)?]
        }
        Op::SwiGlu { len: n, .. } => {
            let g = ir.param(Elem::F32, &[n]);
            let u = ir.param(Elem::F32, &[n]);
            let sg = ir.op("Swish", "opset4", "", &[g], &[n]);
            let y = ir.binary("Multiply", sg, u);
            ir.result(y);
            vec![tensor(&[n], &i.glu().gate)?, tensor(&[n], &i.glu().up)?]
        }
        Op::Gelu { erf: true, .. } => {
            // 0.5 x + 0.5 x erf(x / sqrt 2), spelled out in a form OpenVINO's GeluFusion does not
            // match: the fused Gelu(erf) approximates erf with a relative error near 0 of ~1e-3,
            // which fails the strict tolerance; the Erf op itself is accurate.
            let n = i.unary().x.len();
            let a = ir.param(Elem::F32, &[n]);
            let inv_sqrt2 = ir.const_f32(&[1], &[std::f32::consts::FRAC_1_SQRT_2]);
            let t = ir.binary("Multiply", a, inv_sqrt2);
            let e = ir.op("Erf", "opset1", "", &[t], &[n]);
            let half = ir.const_f32(&[1], &[0.5]);
            let hx = ir.binary("Multiply", a, half);
            let hxe = ir.binary("Multiply", hx, e);
            let y = ir.binary("Add", hx, hxe);
            ir.result(y);
            vec![tensor(&[n], &i.unary().x)?]
        }
        op @ (Op::LayerNorm { dims: RowsDims { rows, cols }, .. }
        | Op::RmsNorm { dims: RowsDims { rows, cols }, .. }) => {
            let a = ir.param(Elem::F32, &[rows, cols]);
            let gamma = ir.const_f32(&[cols], &i.norm().gamma);
            let axes = ir.const_i64(&[1], &[-1]);
            let y = if matches!(op, Op::LayerNorm { .. }) {
                let norm = ir.op(
                    "MVN",
                    "opset6",
                    "normalize_variance=\"true\" eps=\"1e-05\" eps_mode=\"inside_sqrt\"",
                    &[a, axes],
                    &[rows, cols],
                );
                let beta = ir.const_f32(&[cols], &i.norm().beta);
                let scaled = ir.binary("Multiply", norm, gamma);
                ir.binary("Add", scaled, beta)
            } else {
                let sq = ir.binary("Multiply", a, a);
                let ms = ir.op("ReduceMean", "opset1", "keep_dims=\"true\"", &[sq, axes], &[rows, 1]);
                let eps = ir.const_f32(&[1], &[1e-5]);
                let ms = ir.binary("Add", ms, eps);
                let rms = ir.op("Sqrt", "opset1", "", &[ms], &[rows, 1]);
                let norm = ir.binary("Divide", a, rms);
                ir.binary("Multiply", norm, gamma)
            };
            ir.result(y);
            vec![tensor(&[rows, cols], &i.norm().x)?]
        }
        // One SDPA model for all three variants: they compute the same attention.
        Op::Attention { dims: a, .. } => {
            let (b, h, s, d, window) = (a.batch, a.heads, a.seq_len, a.head_dim, a.window);
            let dims = [b, h, s, d];
            let q = ir.param(Elem::F32, &dims);
            let k = ir.param(Elem::F32, &dims);
            let v = ir.param(Elem::F32, &dims);
            // Additive mask: query i sees keys max(0, i + 1 - window) ..= i.
            let mut mask = vec![0f32; s * s];
            for qi in 0..s {
                for kj in 0..s {
                    if kj > qi || kj + window <= qi {
                        mask[qi * s + kj] = f32::NEG_INFINITY;
                    }
                }
            }
            let mask = ir.const_f32(&[s, s], &mask);
            let scale = ir.const_f32(&[1], &[1.0 / (d as f32).sqrt()]);
            let o = ir.op("ScaledDotProductAttention", "opset13", "causal=\"false\"", &[q, k, v, mask, scale], &dims);
            ir.result(o);
            vec![tensor(&dims, &i.attention().q)?, tensor(&dims, &i.attention().k)?, tensor(&dims, &i.attention().v)?]
        }
        Op::Embedding { dims: d, .. } => {
            let e = i.embedding();
            let table = ir.param(Elem::F32, &[d.vocab, d.hidden]);
            let ids: Vec<i64> = e.ids.iter().map(|&t| i64::from(t)).collect();
            let ids = ir.const_i64(&[d.tokens], &ids);
            let axis = ir.const_i64(&[], &[0]);
            let y = ir.op("Gather", "opset8", "batch_dims=\"0\"", &[table, ids, axis], &[d.tokens, d.hidden]);
            ir.result(y);
            vec![tensor(&[d.vocab, d.hidden], &e.table)?]
        }
        Op::Rope { dims: d, .. } => {
            // y = x * cos + rotate_half(x) * sin, with rotate_half as a matmul by a signed
            // permutation (exact in f32) and the tables broadcast over heads.
            let (t, h, hd, half) = (d.tokens, d.heads, d.head_dim, d.head_dim / 2);
            let ri = i.rope();
            let xp = ir.param(Elem::F32, &[t, h, hd]);
            let mut rot = vec![0.0f32; hd * hd];
            for j in 0..half {
                rot[(j + half) * hd + j] = -1.0;
                rot[j * hd + j + half] = 1.0;
            }
            let rot = ir.const_f32(&[hd, hd], &rot);
            let full = |table: &[f32]| -> Vec<f32> {
                table.chunks(half).flat_map(|row| row.iter().chain(row).copied()).collect()
            };
            let (c, sn) = (ir.const_f32(&[t, 1, hd], &full(&ri.cos)), ir.const_f32(&[t, 1, hd], &full(&ri.sin)));
            let rotated =
                ir.op("MatMul", "opset1", "transpose_a=\"false\" transpose_b=\"false\"", &[xp, rot], &[t, h, hd]);
            let a = ir.binary("Multiply", xp, c);
            let b = ir.binary("Multiply", rotated, sn);
            let y = ir.binary("Add", a, b);
            ir.result(y);
            vec![tensor(&[t, h, hd], &ri.x)?]
        }
        Op::LogMel(dims) => {
            let n = i.audio().pcm.len();
            let m = MelSetup::new(dims.n_mels, n);
            let pcm = ir.param(Elem::F32, &[n]);
            // Centred, reflect-padded frames as one Gather.
            let mut idx = Vec::with_capacity(m.n_frames * m.n_fft);
            for f in 0..m.n_frames {
                let start = (f * m.hop) as isize - (m.n_fft / 2) as isize;
                idx.extend((0..m.n_fft).map(|t| reflect_index(start + t as isize, n) as i64));
            }
            let idx = ir.const_i64(&[m.n_frames, m.n_fft], &idx);
            let axis = ir.const_i64(&[], &[0]);
            let frames = ir.op("Gather", "opset8", "batch_dims=\"0\"", &[pcm, idx, axis], &[m.n_frames, m.n_fft]);
            let window = ir.const_f32(&[m.n_fft], &m.window);
            let frames = ir.binary("Multiply", frames, window);
            let fft_axes = ir.const_i64(&[1], &[1]);
            let spec = ir.op("RDFT", "opset9", "", &[frames, fft_axes], &[m.n_frames, m.n_bins, 2]);
            let sq = ir.binary("Multiply", spec, spec);
            let last = ir.const_i64(&[1], &[-1]);
            let power = ir.op("ReduceSum", "opset1", "keep_dims=\"false\"", &[sq, last], &[m.n_frames, m.n_bins]);
            let fb = ir.const_f32(&[m.n_mels, m.n_bins], &m.weights);
            let mel = ir.op(
                "MatMul",
                "opset1",
                "transpose_a=\"false\" transpose_b=\"true\"",
                &[fb, power],
                &[m.n_mels, m.n_frames],
            );
            let floor = ir.const_f32(&[1], &[1e-10]);
            let mel = ir.binary("Maximum", mel, floor);
            let ln = ir.op("Log", "opset1", "", &[mel], &[m.n_mels, m.n_frames]);
            let to_log10 = ir.const_f32(&[1], &[std::f32::consts::LOG10_E]);
            let y = ir.binary("Multiply", ln, to_log10);
            ir.result(y);
            vec![tensor(&[n], &i.audio().pcm)?]
        }
        Op::Add { len, b_len, .. } => {
            // (rows, b_len) + (b_len): numpy broadcasting repeats b along a, as add.wgsl does.
            let rows = len / b_len;
            let a = ir.param(Elem::F32, &[rows, b_len]);
            let b = ir.param(Elem::F32, &[b_len]);
            let y = ir.binary("Add", a, b);
            ir.result(y);
            vec![tensor(&[rows, b_len], &i.add().a)?, tensor(&[b_len], &i.add().b)?]
        }
        Op::Conv1d { dims: d, .. } => {
            // NCW with N = 1; OpenVINO's Convolution takes PyTorch's (c_out, c_in, k) weights.
            let i = i.conv1d();
            let n = d.out_len();
            let x = ir.param(Elem::F32, &[1, d.c_in, d.length]);
            let w = ir.param(Elem::F32, &[d.c_out, d.c_in, d.kernel]);
            let b = ir.param(Elem::F32, &[1, d.c_out, 1]);
            let attrs = format!(
                "strides=\"{}\" pads_begin=\"{p}\" pads_end=\"{p}\" dilations=\"1\" auto_pad=\"explicit\"",
                d.stride,
                p = d.pad()
            );
            let conv = ir.op("Convolution", "opset1", &attrs, &[x, w], &[1, d.c_out, n]);
            let mut y = ir.binary("Add", conv, b);
            if d.time_major {
                let perm = ir.const_i64(&[3], &[0, 2, 1]);
                y = ir.op("Transpose", "opset1", "", &[y, perm], &[1, n, d.c_out]);
            }
            ir.result(y);
            vec![
                tensor(&[1, d.c_in, d.length], &i.x)?,
                tensor(&[d.c_out, d.c_in, d.kernel], &i.w)?,
                tensor(&[1, d.c_out, 1], &i.b)?,
            ]
        }
        Op::CachedAttention { .. } | Op::LmHead { .. } => {
            return Err(format!(
                "native-openvino has no model for {} yet (model operations run on wgpu and native-cpu)",
                kernel.id
            ));
        }
        Op::Peak(_) => {
            return Err(format!(
                "native-openvino does not run {}: a peak is a hand-written loop, and an OpenVINO graph \
                 would measure its compiler's rewrite of it; its records carry no fraction of peak",
                kernel.id
            ));
        }
        Op::Grad(_) => {
            return Err(format!(
                "native-openvino runs inference only: {} is a training kernel (OpenVINO has no backward \
                 operations; its training extension is for quantisation-aware fine-tuning in PyTorch)",
                kernel.id
            ));
        }
        Op::Int8Matmul { .. } => {
            return Err(format!(
                "native-openvino has no model for {}: OpenVINO quantises activations itself (FakeQuantize \
                 and its low-precision transformations), so a graph would not run this kernel's int8 scheme",
                kernel.id
            ));
        }
        Op::QuantMatmul { .. } => {
            return Err(format!(
                "native-openvino has no model for {} yet (OpenVINO's compressed weights, u8 or u4 constants \
                 with a scale Multiply before the MatMul, would express it)",
                kernel.id
            ));
        }
        Op::KvCache { .. } => {
            return Err(format!(
                "native-openvino has no model for {} (the paged KV cache is a chain of dependent steps with \
                 in-place updates, which an OpenVINO graph does not express)",
                kernel.id
            ));
        }
    };
    Ok((ir, feeds))
}

/// A compiled model with its inputs set.
struct OvRun {
    request: InferRequest,
    half: bool,
    _core: Core,
}

impl Prepared for OvRun {
    fn run(&mut self) -> Result<(), RunError> {
        self.request.infer().map_err(|e| RunError(format!("OpenVINO inference failed: {e}")))
    }

    fn output(&self) -> Result<Vec<f32>, RunError> {
        let err = |e: openvino::InferenceError| RunError(format!("reading OpenVINO's output tensor: {e}"));
        let t = self.request.get_output_tensor_by_index(0).map_err(err)?;
        Ok(if self.half {
            t.get_data::<u16>().map_err(err)?.iter().map(|&h| half::f16::from_bits(h).to_f32()).collect()
        } else {
            t.get_data::<f32>().map_err(err)?.to_vec()
        })
    }
}

#[cfg(test)]
mod tests {
    use harness::KERNELS;
    use harness::check::compare;

    use super::*;

    /// OpenVINO must be there when `./x test` says so (ACCELBENCH_REQUIRE_OPENVINO=1);
    /// elsewhere its absence is a clear reason, never a panic.
    fn available() -> bool {
        match OpenVino.probe() {
            Probe::Available { .. } => true,
            Probe::Unavailable { reason, fix } => {
                assert!(!reason.is_empty() && fix.contains("setup"));
                if std::env::var("ACCELBENCH_REQUIRE_OPENVINO").is_ok_and(|v| v == "1") {
                    panic!("OpenVINO required but unavailable: {reason}");
                }
                eprintln!("skipping: {reason}");
                false
            }
        }
    }

    #[test]
    fn every_model_matches_the_reference_or_says_why_not() {
        if !available() {
            return;
        }
        for k in KERNELS {
            for p in &k.params(harness::catalogue::Size::Quick) {
                for seed in [1, 2] {
                    let inputs = k.imp.inputs(p, seed).unwrap();
                    match OpenVino.prepare(k, p, &inputs) {
                        Ok(mut run) => {
                            run.run().unwrap();
                            run.run().unwrap();
                            let c = compare(&run.output().unwrap(), &k.imp.reference(p, &inputs), k.tolerance);
                            assert!(c.passed, "{} {} seed {seed}: {c:?}", k.id, p.case);
                        }
                        Err(reason) => {
                            let refused = [
                                "kvcache-decode",
                                "kvcache-decode-f16",
                                "kvcache-stream",
                                "attention-cache",
                                "attention-cache-f16",
                                "lm-head",
                                "lm-head-f16",
                                "matmul-q8",
                                "gemv-q8",
                                "matmul-q4",
                                "gemv-q4",
                                "matmul-q8-i8",
                                "gemv-q8-i8",
                            ];
                            if k.imp.mode() == harness::schema::Mode::Training {
                                assert!(reason.contains("training kernel"), "{}: {reason}", k.id);
                                continue;
                            }
                            if k.family == harness::catalogue::Family::Peak {
                                assert!(reason.contains("no fraction of peak"), "{}: {reason}", k.id);
                                continue;
                            }
                            assert!(refused.contains(&k.id), "{}: {reason}", k.id);
                            assert!(reason.contains("no model"), "{reason}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_ir_writer_numbers_ports_after_inputs() {
        let mut ir = Ir::default();
        let a = ir.param(Elem::F32, &[2, 3]);
        let c = ir.const_f32(&[3], &[1.0, 2.0, 3.0]);
        let y = ir.binary("Add", a, c);
        ir.result(y);
        let xml = ir.xml();
        assert!(xml.contains(r#"<edge from-layer="0" from-port="0" to-layer="2" to-port="0"/>"#), "{xml}");
        assert!(xml.contains(r#"<edge from-layer="2" from-port="2" to-layer="3" to-port="0"/>"#), "{xml}");
        assert_eq!(ir.weights.len(), 12);
    }
}
