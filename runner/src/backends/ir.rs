//! A small writer of OpenVINO IR (v11 XML plus one weights blob): the OpenVINO backend builds its
//! models from our parameters at run time with this, so no model files ship and no converter is
//! needed. Shapes are static and given by the caller for every output.

use std::fmt::Write as _;

/// An output of a layer: (layer id, port id).
#[derive(Clone, Copy, Debug)]
pub struct Out {
    layer: usize,
    port: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    F16,
    I64,
}

impl Elem {
    fn ir(self) -> (&'static str, &'static str) {
        match self {
            Elem::F32 => ("f32", "FP32"),
            Elem::F16 => ("f16", "FP16"),
            Elem::I64 => ("i64", "I64"),
        }
    }
}

#[derive(Debug, Default)]
pub struct Ir {
    layers: String,
    edges: Vec<(Out, usize, usize)>,
    /// Element type and shape of every layer's output 0 (all our layers have one output).
    outs: Vec<(Elem, Vec<usize>)>,
    pub weights: Vec<u8>,
    /// fp16 at the model's edges: every f32 parameter is fed as f16 and converted, and the
    /// result is converted back, so the f32 graph inside runs the fp16 variants' contract
    /// (fp16 storage, f32 arithmetic).
    pub half_io: bool,
}

fn port(id: usize, e: Elem, shape: &[usize]) -> String {
    let dims: String = shape.iter().map(|d| format!("<dim>{d}</dim>")).collect();
    format!("<port id=\"{id}\" precision=\"{}\">{dims}</port>", e.ir().1)
}

impl Ir {
    fn layer(&mut self, kind: &str, version: &str, data: &str, inputs: &[Out], e: Elem, shape: &[usize]) -> Out {
        let id = self.outs.len();
        let ins: String = inputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let (ie, ish) = &self.outs[o.layer];
                port(i, *ie, ish)
            })
            .collect();
        for (i, o) in inputs.iter().enumerate() {
            self.edges.push((*o, id, i));
        }
        let input = if inputs.is_empty() { String::new() } else { format!("<input>{ins}</input>") };
        let output =
            if kind == "Result" { String::new() } else { format!("<output>{}</output>", port(inputs.len(), e, shape)) };
        let _ = writeln!(
            self.layers,
            "<layer id=\"{id}\" name=\"l{id}\" type=\"{kind}\" version=\"{version}\"><data {data}/>{input}{output}</layer>"
        );
        self.outs.push((e, shape.to_vec()));
        Out { layer: id, port: inputs.len() }
    }

    pub fn shape(&self, o: Out) -> Vec<usize> {
        self.outs[o.layer].1.clone()
    }

    pub fn param(&mut self, e: Elem, shape: &[usize]) -> Out {
        let s = shape.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        if self.half_io && e == Elem::F32 {
            let data = format!("shape=\"{s}\" element_type=\"f16\"");
            let p = self.layer("Parameter", "opset1", &data, &[], Elem::F16, shape);
            return self.layer("Convert", "opset1", "destination_type=\"f32\"", &[p], Elem::F32, shape);
        }
        self.layer("Parameter", "opset1", &format!("shape=\"{s}\" element_type=\"{}\"", e.ir().0), &[], e, shape)
    }

    fn constant(&mut self, e: Elem, shape: &[usize], bytes: &[u8]) -> Out {
        // Keep every constant 64-byte aligned in the blob.
        while !self.weights.len().is_multiple_of(64) {
            self.weights.push(0);
        }
        let offset = self.weights.len();
        self.weights.extend_from_slice(bytes);
        let s = shape.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        let data = format!("element_type=\"{}\" shape=\"{s}\" offset=\"{offset}\" size=\"{}\"", e.ir().0, bytes.len());
        self.layer("Const", "opset1", &data, &[], e, shape)
    }

    pub fn const_f32(&mut self, shape: &[usize], v: &[f32]) -> Out {
        assert_eq!(shape.iter().product::<usize>(), v.len(), "constant shape and data disagree");
        self.constant(Elem::F32, shape, bytemuck::cast_slice(v))
    }

    pub fn const_i64(&mut self, shape: &[usize], v: &[i64]) -> Out {
        assert_eq!(shape.iter().product::<usize>(), v.len(), "constant shape and data disagree");
        self.constant(Elem::I64, shape, bytemuck::cast_slice(v))
    }

    /// A layer of `kind` (opset `version`, XML attributes `data`) whose output has `shape`.
    pub fn op(&mut self, kind: &str, version: &str, data: &str, inputs: &[Out], shape: &[usize]) -> Out {
        let e = self.outs[inputs[0].layer].0;
        self.layer(kind, version, data, inputs, e, shape)
    }

    /// Element-wise binary op with numpy broadcasting; the output has the first input's shape.
    pub fn binary(&mut self, kind: &str, a: Out, b: Out) -> Out {
        let shape = self.shape(a);
        self.op(kind, "opset1", "auto_broadcast=\"numpy\"", &[a, b], &shape)
    }

    pub fn result(&mut self, o: Out) {
        let shape = self.shape(o);
        let o = if self.half_io && self.outs[o.layer].0 == Elem::F32 {
            self.layer("Convert", "opset1", "destination_type=\"f16\"", &[o], Elem::F16, &shape)
        } else {
            o
        };
        self.layer("Result", "opset1", "", &[o], Elem::F32, &shape);
    }

    pub fn xml(&self) -> String {
        let edges: String = self
            .edges
            .iter()
            .map(|(from, to, to_port)| {
                format!(
                    "<edge from-layer=\"{}\" from-port=\"{}\" to-layer=\"{to}\" to-port=\"{to_port}\"/>\n",
                    from.layer, from.port
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\"?>\n<net name=\"accelbench\" version=\"11\">\n<layers>\n{}</layers>\n<edges>\n{edges}</edges>\n</net>\n",
            self.layers
        )
    }
}
