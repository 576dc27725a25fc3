// Row softmax, one invocation per row: no workgroup memory and no barriers, which CPU adapters
// (SwiftShader, lavapipe) run far faster than a workgroup tree reduction, and GPUs far slower
// (each invocation walks its own row, so loads do not coalesce). The autotuner picks per device.
// The max and the sum are one online pass (each new maximum rescales the running sum), then
// one pass writes: each element is read twice and written once, as in softmax.wgsl. Storage is
// `Elem` (f32 or f16, aliased by the including file); arithmetic is f32 either way.

//!include softmax_io.inc.wgsl

const ROWS_PER_WG: u32 = 64u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32) {
    // The host dispatches ceil(rows / 64) workgroups, spread over y past 65535.
    let row = (wg.x + wg.y * 65535u) * ROWS_PER_WG + lidx;
    if (row >= dims.rows) {
        return;
    }
    let base = row * dims.cols;

    var m = -3.402823e38;
    var s = 0.0;
    for (var i = 0u; i < dims.cols; i++) {
        let v = f32(x[base + i]);
        if (v > m) {
            s = s * exp(m - v) + 1.0;
            m = v;
        } else {
            s += exp(v - m);
        }
    }

    let inv = 1.0 / s;
    for (var i = 0u; i < dims.cols; i++) {
        y[base + i] = Elem(exp(f32(x[base + i]) - m) * inv);
    }
}
