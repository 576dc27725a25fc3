//! WebNN in the page: the kernels of `WEBNN_KERNELS` (matmul, softmax, LayerNorm, GELU) as
//! `MLGraphBuilder` graphs on the `navigator.ml` context the environment found, timed with the
//! host clock around `dispatch` and the read back of the output, and checked by the one
//! measurement engine against the same reference as every backend. web-sys has no WebNN
//! bindings, so the calls go through reflection; each names the step that failed.

use harness::catalogue::{Kernel, Params};
use harness::clock;
use harness::kernels::Inputs;
use harness::measure::{FirstRun, Reading, Timed};
use harness::op::{Op, RowsDims};
use harness::schema::{AdapterReport, TimerInfo, TimerKind};
use js_sys::{Array, Float32Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast as _, JsValue};

use crate::js;

/// A compiled graph with its input and output tensors on the context, ready to dispatch.
pub struct WebnnKernel {
    context: JsValue,
    graph: JsValue,
    /// `{name: MLTensor}` for `dispatch`.
    inputs: Object,
    outputs: Object,
    output: JsValue,
    build_ns: f64,
    resolution_ns: f64,
}

/// What a record says about the device: the context's device type, as obtained.
pub fn adapter(device: &str) -> AdapterReport {
    AdapterReport::runtime(format!("WebNN {device} context"), "webnn", device, "")
}

fn set(obj: &Object, key: &str, v: &JsValue) {
    let _ = Reflect::set(obj, &key.into(), v);
}

/// Calls `obj.method(args...)`, naming the method in the error.
fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let f: Function = js::get(obj, method).dyn_into().map_err(|_| format!("WebNN has no {method}()"))?;
    let args: Array = args.iter().collect();
    f.apply(obj, &args).map_err(|e| format!("{method}(): {}", js::error_message(&e)))
}

async fn call_async(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, String> {
    js::await_promise(call(obj, method, args)?).await.map_err(|e| format!("{method}(): {e}"))
}

/// An operand descriptor, with the shape under both its current name and the one Chromium used
/// before (`dimensions`), so either generation of the API reads it.
fn descriptor(shape: &[usize]) -> Object {
    let d = Object::new();
    set(&d, "dataType", &"float32".into());
    let dims: Array = shape.iter().map(|&n| JsValue::from(n as u32)).collect();
    set(&d, "shape", &dims);
    set(&d, "dimensions", &dims);
    d
}

fn floats(v: &[f32]) -> Float32Array {
    Float32Array::from(v)
}

/// Builds the graph of `kernel` at `p` and uploads its inputs; `Err` names what WebNN refused.
pub async fn prepare(
    device: &str,
    kernel: &Kernel,
    p: &Params,
    inputs: &Inputs,
    resolution_ns: f64,
) -> Result<WebnnKernel, String> {
    let nav: JsValue = js::window().navigator().into();
    let ml = js::get(&nav, "ml");
    let opts = Object::new();
    set(&opts, "deviceType", &device.into());
    let context = call_async(&ml, "createContext", &[opts.into()]).await?;
    let ctor: Function =
        js::get(&js::window().into(), "MLGraphBuilder").dyn_into().map_err(|_| "MLGraphBuilder is undefined")?;
    let builder = Reflect::construct(&ctor, &Array::of1(&context))
        .map_err(|e| format!("new MLGraphBuilder(): {}", js::error_message(&e)))?;
    // (name, shape, data) of each graph input, and the output operand with its shape.
    let mut feeds: Vec<(&str, Vec<usize>, &[f32])> = Vec::new();
    let input = |name: &str, shape: &[usize]| call(&builder, "input", &[name.into(), descriptor(shape).into()]);
    let (out, out_shape) = match (kernel.imp.op(p), inputs) {
        (Op::Matmul { dims, .. }, Inputs::Matmul(mm)) => {
            let (a_shape, b_shape) = (vec![dims.batch, dims.m, dims.k], vec![dims.batch, dims.k, dims.n]);
            let a = input("a", &a_shape)?;
            let b = input("b", &b_shape)?;
            feeds.push(("a", a_shape, &mm.a));
            feeds.push(("b", b_shape, &mm.b));
            (call(&builder, "matmul", &[a, b])?, vec![dims.batch, dims.m, dims.n])
        }
        (Op::Softmax { dims: RowsDims { rows, cols }, .. }, Inputs::Unary(u)) => {
            let x = input("x", &[rows, cols])?;
            feeds.push(("x", vec![rows, cols], &u.x));
            // The axis argument is required by the current API and ignored by older ones.
            (call(&builder, "softmax", &[x, JsValue::from(1)])?, vec![rows, cols])
        }
        (Op::LayerNorm { dims: RowsDims { rows, cols }, .. }, Inputs::Norm(n)) => {
            let x = input("x", &[rows, cols])?;
            feeds.push(("x", vec![rows, cols], &n.x));
            let constant = |v: &[f32]| call(&builder, "constant", &[descriptor(&[cols]).into(), floats(v).into()]);
            let options = Object::new();
            set(&options, "scale", &constant(&n.gamma)?);
            set(&options, "bias", &constant(&n.beta)?);
            set(&options, "axes", &Array::of1(&JsValue::from(1)));
            // The epsilon the reference and the WGSL kernel use.
            set(&options, "epsilon", &JsValue::from(harness::kernels::NORM_EPS));
            (call(&builder, "layerNormalization", &[x, options.into()])?, vec![rows, cols])
        }
        (Op::Gelu { erf: true, .. }, Inputs::Unary(u)) => {
            let x = input("x", &[u.x.len()])?;
            feeds.push(("x", vec![u.x.len()], &u.x));
            // WebNN's gelu is the exact (erf) form.
            (call(&builder, "gelu", &[x])?, vec![u.x.len()])
        }
        (other, _) => return Err(format!("{} ({other:?}) has no WebNN graph here", kernel.id)),
    };
    let named = Object::new();
    set(&named, "y", &out);
    let t0 = clock::now();
    let graph = call_async(&builder, "build", &[named.into()]).await?;
    let build_ns = t0.elapsed().as_secs_f64() * 1e9;
    let graph_inputs = Object::new();
    for (name, shape, data) in feeds {
        let t = tensor(&context, &shape, false).await?;
        call(&context, "writeTensor", &[t.clone(), floats(data).into()])?;
        set(&graph_inputs, name, &t);
    }
    let output = tensor(&context, &out_shape, true).await?;
    let outputs = Object::new();
    set(&outputs, "y", &output);
    Ok(WebnnKernel { context, graph, inputs: graph_inputs, outputs, output, build_ns, resolution_ns })
}

/// An MLTensor the page writes (inputs) or reads back (the output).
async fn tensor(context: &JsValue, shape: &[usize], readable: bool) -> Result<JsValue, String> {
    let d = descriptor(shape);
    set(&d, if readable { "readable" } else { "writable" }, &JsValue::TRUE);
    call_async(context, "createTensor", &[d.into()]).await
}

impl WebnnKernel {
    fn dispatch(&self) -> Result<(), String> {
        call(&self.context, "dispatch", &[self.graph.clone(), self.inputs.clone().into(), self.outputs.clone().into()])
            .map(drop)
    }

    /// Reads the output back; it resolves once every dispatch before it has finished.
    async fn read(&self) -> Result<Vec<f32>, String> {
        let buf = call_async(&self.context, "readTensor", std::slice::from_ref(&self.output)).await?;
        Ok(Float32Array::new(&buf).to_vec())
    }
}

impl Timed for WebnnKernel {
    type Error = String;

    async fn first_run(&mut self) -> Result<FirstRun, String> {
        let t0 = clock::now();
        self.dispatch()?;
        let output = self.read().await?;
        Ok(FirstRun { output, ns: t0.elapsed().as_secs_f64() * 1e9 })
    }

    /// `reps` dispatches back to back, then one read back that waits for them all: the time
    /// includes one copy of the output to the page, as a user's inference would.
    async fn sample(&mut self, reps: u32) -> Result<Reading, String> {
        let t0 = clock::now();
        for _ in 0..reps {
            self.dispatch()?;
        }
        self.read().await?;
        let wall_ns = t0.elapsed().as_secs_f64() * 1e9;
        Ok(Reading { per_exec_ns: wall_ns / f64::from(reps), wall_ns, per_pass_ns: vec![] })
    }

    fn timer(&self) -> TimerInfo {
        TimerInfo { kind: TimerKind::HostClock, resolution_ns: self.resolution_ns, quantized: false }
    }

    fn pipeline_ns(&self) -> Option<f64> {
        Some(self.build_ns)
    }
}
