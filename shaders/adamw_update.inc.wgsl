// The AdamW update of one parameter: the checked out-of-place kernels (adamw.inc.wgsl) and a training
// step's in-place update (adamw_step.wgsl) share it. Reads the including file's `dims` for the
// hyper-parameters; `c1`, `c2` are the bias corrections 1 / (1 - beta^t).

struct AdamState {
    p: f32,
    m: f32,
    v: f32,
}

fn adamw(p: f32, g: f32, m: f32, v: f32, c1: f32, c2: f32) -> AdamState {
    let m1 = dims.beta1 * m + (1.0 - dims.beta1) * g;
    let v1 = dims.beta2 * v + (1.0 - dims.beta2) * g * g;
    let update = (m1 * c1) / (sqrt(v1 * c2) + dims.eps);
    return AdamState(p - dims.lr * (update + dims.weight_decay * p), m1, v1);
}
