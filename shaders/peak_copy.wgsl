// Practical memory bandwidth: y = x in vec4s, grid-stride, nothing else. Each byte is read once
// and written once, so bytes / time is what a bandwidth-bound kernel can hope for on this
// adapter; every record's memory share of peak divides by it.

struct Dims {
    len4: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < dims.len4; i += nwg.x * 256u) {
        y[i] = x[i];
    }
}
