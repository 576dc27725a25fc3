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

extern "C" __global__ void silu(const float* x, float* y, unsigned int n) {
    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float v = x[i];
        y[i] = v / (1.0f + expf(-v));
    }
}

extern "C" __global__ void swiglu(const float* gate, const float* up, float* y, unsigned int n) {
    for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float g = gate[i];
        y[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// Embedding lookup, one thread per output element.
extern "C" __global__ void embedding(const float* table, const unsigned int* ids, float* y, unsigned int tokens,
                                     unsigned int hidden) {
    unsigned int total = tokens * hidden;
    for (unsigned int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        y[e] = table[ids[e / hidden] * hidden + e % hidden];
    }
}

// RoPE, rotate-half, one thread per (token, head, pair); cos/sin table (tokens x half) given.
extern "C" __global__ void rope(const float* x, const float* cos_t, const float* sin_t, float* y,
                                unsigned int tokens, unsigned int heads, unsigned int half) {
    unsigned int total = tokens * heads * half;
    for (unsigned int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += gridDim.x * blockDim.x) {
        unsigned int i = e % half, row = e / half, t = row / heads, base = row * 2 * half;
        float c = cos_t[t * half + i], s = sin_t[t * half + i];
        float a = x[base + i], b = x[base + i + half];
        y[base + i] = a * c - b * s;
        y[base + i + half] = b * c + a * s;
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

// As block_reduce, for 128-thread blocks (4 warps).
__device__ float block_reduce128(float v, bool is_max) {
    __shared__ float warp_vals[4];
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_vals[warp] = v;
    __syncthreads();
    v = lane < 4 ? warp_vals[lane] : (is_max ? -3.402823e38f : 0.0f);
    for (int o = 2; o > 0; o >>= 1) {
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

// Causal (optionally sliding-window) attention, one 128-thread block per (query, batch*head):
// scores for the visible keys in shared memory, block max and sum, then each thread owns output
// dimensions and accumulates p_j v_j over the keys (coalesced reads of v rows).
// Dynamic shared memory: (head_dim + window) floats.
extern "C" __global__ void attention(const float* q, const float* k, const float* v, float* o,
                                     unsigned int seq_len, unsigned int head_dim, unsigned int window,
                                     float scale) {
    extern __shared__ float sh[];
    float* qs = sh;
    float* p = sh + head_dim;
    const unsigned int i = blockIdx.x;
    const size_t base = (size_t)blockIdx.y * seq_len * head_dim;
    const unsigned int lo = i + 1 > window ? i + 1 - window : 0;
    const unsigned int n = i + 1 - lo;
    for (unsigned int t = threadIdx.x; t < head_dim; t += blockDim.x) qs[t] = q[base + (size_t)i * head_dim + t];
    __syncthreads();
    float m = -3.402823e38f;
    for (unsigned int j = threadIdx.x; j < n; j += blockDim.x) {
        const float* kj = k + base + (size_t)(lo + j) * head_dim;
        float dot = 0.0f;
        for (unsigned int t = 0; t < head_dim; ++t) dot = fmaf(qs[t], kj[t], dot);
        p[j] = dot * scale;
        m = fmaxf(m, p[j]);
    }
    m = block_reduce128(m, true);
    float s = 0.0f;
    for (unsigned int j = threadIdx.x; j < n; j += blockDim.x) { float e = __expf(p[j] - m); p[j] = e; s += e; }
    const float inv = 1.0f / block_reduce128(s, false);
    __syncthreads();
    for (unsigned int t = threadIdx.x; t < head_dim; t += blockDim.x) {
        float acc = 0.0f;
        for (unsigned int j = 0; j < n; ++j) acc = fmaf(p[j], v[base + (size_t)(lo + j) * head_dim + t], acc);
        o[base + (size_t)i * head_dim + t] = acc * inv;
    }
}

// Log-mel, one 256-thread block per frame: reflect-padded, windowed frame in shared memory,
// power spectrum by direct DFT (exact twiddles from (k*p) mod n_fft), sparse mel filterbank
// (each mel's nonzero bin range), log10 with a 1e-10 floor. Output (n_mels, n_frames).
// Dynamic shared memory: (n_fft + n_fft/2 + 1) floats.
extern "C" __global__ void logmel(const float* pcm, unsigned int n_samples, const float* window,
                                  const float* fb, const unsigned int* ranges, float* out,
                                  unsigned int n_fft, unsigned int hop, unsigned int n_mels,
                                  unsigned int n_frames) {
    extern __shared__ float sh[];
    float* frame = sh;
    float* power = sh + n_fft;
    const unsigned int nb = n_fft / 2 + 1;
    const unsigned int f = blockIdx.x;
    const int start = (int)(f * hop) - (int)(n_fft / 2);
    for (unsigned int t = threadIdx.x; t < n_fft; t += blockDim.x) {
        int idx = start + (int)t;
        if (idx < 0) idx = -idx;
        if (idx >= (int)n_samples) idx = 2 * (int)n_samples - 2 - idx;
        frame[t] = pcm[idx] * window[t];
    }
    __syncthreads();
    for (unsigned int b = threadIdx.x; b < nb; b += blockDim.x) {
        float re = 0.0f, im = 0.0f;
        for (unsigned int t = 0; t < n_fft; ++t) {
            float sn, cs;
            sincospif(2.0f * (float)((b * t) % n_fft) / (float)n_fft, &sn, &cs);
            re = fmaf(frame[t], cs, re);
            im = fmaf(frame[t], sn, im);
        }
        power[b] = re * re + im * im;
    }
    __syncthreads();
    for (unsigned int m = threadIdx.x; m < n_mels; m += blockDim.x) {
        float e = 0.0f;
        for (unsigned int b = ranges[2 * m]; b < ranges[2 * m + 1]; ++b) e = fmaf(fb[m * nb + b], power[b], e);
        out[(size_t)m * n_frames + f] = log10f(fmaxf(e, 1e-10f));
    }
}
