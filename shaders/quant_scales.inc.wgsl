// The weights' block scales of the quantised products: f16 pairs packed in u32s, decoded from
// their bits (not with unpack2x16float, which some downlevel targets lack), so no kernel that
// reads them needs `shader-f16`. The including file binds `scales: array<u32>`.

// IEEE binary16 bits to f32 (scales are finite: no inf or NaN case).
fn f16_to_f32(h: u32) -> f32 {
    let e = (h >> 10u) & 0x1fu;
    let m = f32(h & 0x3ffu);
    // Subnormals: m * 2^-24; normals: (1 + m / 1024) * 2^(e - 15).
    let v = select(ldexp(1.0 + m / 1024.0, i32(e) - 15), m * 5.9604645e-8, e == 0u);
    return select(v, -v, (h & 0x8000u) != 0u);
}

fn scale_of(s: u32) -> f32 {
    let word = scales[s / 2u];
    return f16_to_f32(select(word & 0xffffu, word >> 16u, (s & 1u) == 1u));
}
