// Workgroup tree reductions shared by every kernel that reduces a row in one workgroup (softmax,
// the norms, unfused and sliding-window attention, KV-cache decode). The including kernel
// declares `const WG: u32` (a power of two, its workgroup size); every invocation must call with
// its `local_invocation_index` from uniform control flow.
// Both functions begin with a barrier after the store, so everything the workgroup wrote to
// workgroup memory before the call is visible after it, and end with one, so the next reduction
// may reuse the scratch array before a slow invocation has read this result.

var<workgroup> wg_reduce: array<f32, WG>;

fn wg_reduce_op(lidx: u32, v: f32, is_max: bool) -> f32 {
    wg_reduce[lidx] = v;
    workgroupBarrier();
    for (var st = WG / 2u; st > 0u; st >>= 1u) {
        if (lidx < st) {
            // `is_max` is the same for every invocation of a call, so this branch is uniform.
            if (is_max) {
                wg_reduce[lidx] = max(wg_reduce[lidx], wg_reduce[lidx + st]);
            } else {
                wg_reduce[lidx] = wg_reduce[lidx] + wg_reduce[lidx + st];
            }
        }
        workgroupBarrier();
    }
    let r = wg_reduce[0];
    workgroupBarrier();
    return r;
}

fn workgroup_max(lidx: u32, v: f32) -> f32 {
    return wg_reduce_op(lidx, v, true);
}

fn workgroup_sum(lidx: u32, v: f32) -> f32 {
    return wg_reduce_op(lidx, v, false);
}
