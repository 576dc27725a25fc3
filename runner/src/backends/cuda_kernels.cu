// CUDA C kernels for accelbench's native-cuda backend, compiled at run time by NVRTC.
// Same contracts as the WGSL kernels in shaders/ (row-major, f32); GEMMs go through cuBLAS.

extern "C" __global__ void gelu_tanh(const float* x, float* y, unsigned int n) {
    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
    }
}

extern "C" __global__ void gelu_erf(const float* x, float* y, unsigned int n) {
    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * 0.7071067812f));
    }
}

// Block-wide reduction over 256 threads: warp shuffles, then one warp over the warp results.
__device__ float block_reduce(float v, bool is_max) {
    __shared__ float warp_vals[8];
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_vals[warp] = v;
    __syncthreads();
    v = lane < 8 ? warp_vals[lane] : (is_max ? -3.402823e38f : 0.0f);
    for (int o = 4; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    v = __shfl_sync(0xffffffffu, v, 0);
    __syncthreads();
    return v;
}

// One 256-thread block per row.
extern "C" __global__ void softmax(const float* x, float* y, unsigned int cols) {
    const float* xr = x + (size_t)blockIdx.x * cols;
    float* yr = y + (size_t)blockIdx.x * cols;
    float m = -3.402823e38f;
    for (unsigned int i = threadIdx.x; i < cols; i += blockDim.x) m = fmaxf(m, xr[i]);
    m = block_reduce(m, true);
    float s = 0.0f;
    for (unsigned int i = threadIdx.x; i < cols; i += blockDim.x) s += __expf(xr[i] - m);
    float inv = 1.0f / block_reduce(s, false);
    for (unsigned int i = threadIdx.x; i < cols; i += blockDim.x) yr[i] = __expf(xr[i] - m) * inv;
}

// rms != 0: RMSNorm (beta unused); else LayerNorm with two-pass variance.
extern "C" __global__ void rownorm(const float* x, const float* gamma, const float* beta, float* y,
                                unsigned int cols, float eps, int rms) {
    const float* xr = x + (size_t)blockIdx.x * cols;
    float* yr = y + (size_t)blockIdx.x * cols;
    float mean = 0.0f;
    if (!rms) {
        float s = 0.0f;
        for (unsigned int i = threadIdx.x; i < cols; i += blockDim.x) s += xr[i];
        mean = block_reduce(s, false) / cols;
    }
    float q = 0.0f;
    for (unsigned int i = threadIdx.x; i < cols; i += blockDim.x) { float d = xr[i] - mean; q += d * d; }
    float inv = rsqrtf(block_reduce(q, false) / cols + eps);
    for (unsigned int i = threadIdx.x; i < cols; i += blockDim.x)
        yr[i] = (xr[i] - mean) * inv * gamma[i] + (rms ? 0.0f : beta[i]);
}
