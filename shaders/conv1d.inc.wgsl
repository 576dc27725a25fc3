// 1-D convolution with zero padding and a bias per output channel: Whisper's audio front end
// (log-mel -> conv k3 -> GELU -> conv k3 stride 2 -> GELU). x is channel-major: c_in rows of
// `length` samples, `in_stride` apart (the log-mel's rows); w is (c_out, c_in, kernel), as
// PyTorch stores Conv1d. y is (c_out, out_len), or (out_len, c_out) with `time_major`, the
// layout the transformer reads, so the last convolution needs no transpose. One invocation per
// output element, grid-stride; with time_major, neighbouring invocations write neighbouring
// channels and read the same samples.
// Storage is `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

struct Dims {
    c_in: u32,
    c_out: u32,
    length: u32,
    kernel: u32,
    stride: u32,
    pad: u32,
    in_stride: u32,
    out_len: u32,
    time_major: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<Elem>;
@group(0) @binding(2) var<storage, read> w: array<Elem>;
@group(0) @binding(3) var<storage, read> bias: array<Elem>;
@group(0) @binding(4) var<storage, read_write> y: array<Elem>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let total = dims.c_out * dims.out_len;
    for (var i = gid.x; i < total; i += nwg.x * 256u) {
        var o: u32;
        var t: u32;
        if (dims.time_major == 1u) {
            t = i / dims.c_out;
            o = i % dims.c_out;
        } else {
            o = i / dims.out_len;
            t = i % dims.out_len;
        }
        var acc = f32(bias[o]);
        // Taps that fall in the padding contribute zero: only j with 0 <= t*stride + j - pad < length.
        let start = i32(t * dims.stride) - i32(dims.pad);
        for (var c = 0u; c < dims.c_in; c++) {
            let wrow = (o * dims.c_in + c) * dims.kernel;
            let xrow = c * dims.in_stride;
            for (var j = 0u; j < dims.kernel; j++) {
                let s = start + i32(j);
                if (s >= 0 && s < i32(dims.length)) {
                    acc += f32(w[wrow + j]) * f32(x[xrow + u32(s)]);
                }
            }
        }
        y[i] = Elem(acc);
    }
}
