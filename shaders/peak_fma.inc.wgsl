// Practical arithmetic peak: each invocation runs `iters` steps of a = a * m + c on four
// independent vec4 accumulators (16 lanes, enough independent chains to hide FMA latency) and
// writes their sum. m comes from the uniform and c = x (1 - m) from the invocation's input, so
// nothing folds at compile time; with |m| < 1 every chain converges to x and stays finite in
// any precision, so the sum is 16 x whatever the accumulators started from.
// Storage is f32; arithmetic is `Acc` (f32 or f16, aliased by the including file).

struct Dims {
    threads: u32,
    iters: u32,
    m: f32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if (t >= dims.threads) {
        return;
    }
    let s = Acc(x[t]);
    let m = vec4<Acc>(Acc(dims.m));
    let c = vec4<Acc>(s * (Acc(1.0) - Acc(dims.m)));
    var a0 = vec4<Acc>(s);
    var a1 = vec4<Acc>(s * Acc(0.5));
    var a2 = vec4<Acc>(s * Acc(0.25));
    var a3 = vec4<Acc>(s * Acc(0.125));
    for (var i = 0u; i < dims.iters; i++) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
    }
    let sum = a0 + a1 + a2 + a3;
    y[t] = f32(sum.x + sum.y + sum.z + sum.w);
}
