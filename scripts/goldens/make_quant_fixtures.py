#!/usr/bin/env python3
"""Reference data for EmberCompute's weight kernels, made with numpy and the `gguf` package (the
quantization reference that ships with llama.cpp).

Run (needs `pip install gguf numpy`; tests only read the output, they never run this):
    python3 scripts/goldens/make_quant_fixtures.py
Writes Tests/EmberComputeTests/Fixtures/quant/<TYPE>.dat for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
Q5_1, Q4_K, Q5_K, Q6_K. Seeded: a rerun gives identical bytes.

<TYPE>.dat, all integers and floats little-endian:
    magic        4 bytes  b"EMQB"
    version      u32      1
    type         u32      ggml type id
    block_size   u32      elements per block (1 for F32/F16/BF16)
    block_bytes  u32      bytes per block (gguf.GGML_QUANT_SIZES)
    block_count  u32
    random_count u32      the first random_count blocks are random bytes (with finite, sensibly sized
                          f16 scales); the others encode normally distributed data
    blocks       block_count * block_bytes bytes, as stored in a GGUF file
    dequantized  block_count * block_size f32: gguf.quants.dequantize of the blocks
The `gguf` package cannot quantize the K types, so their second half comes from the simple
quantizers below (max-based, not ggml's search); their dequantized values still come from gguf.
"""
import os
import struct

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EmberComputeTests", "Fixtures", "quant")
F16_SCALE_FIELDS = {  # byte offsets of the f16 scale fields in each block
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
QK = 256


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def random_scales(rng, n, lo, hi):
    """Finite f16 scales of random sign and magnitude between lo and hi (log-uniform)."""
    return rng.choice([-1.0, 1.0], n) * np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def random_blocks(rng, qtype, n):
    block_bytes = GGML_QUANT_SIZES[qtype][1]
    blocks = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
    d = random_scales(rng, n, 1e-4, 1e-1)
    for field, offset in enumerate(F16_SCALE_FIELDS[qtype]):
        # A min (m, dmin) within a factor 4 of d, as in real blocks: one far larger would bury the
        # quants under its own rounding.
        scale = d if field == 0 else random_scales(rng, n, 0.25, 4) * np.abs(d)
        blocks[:, offset:offset + 2] = f16_bytes(scale)
    return blocks


def pack_k_scales(sc, m):
    """Inverse of ggml's get_scale_min_k4: eight 6-bit scales and mins per row into 12 bytes."""
    out = np.zeros((sc.shape[0], 12), dtype=np.uint8)
    for j in range(4):
        out[:, j] = (sc[:, j] & 63) | ((sc[:, j + 4] >> 4) << 6)
        out[:, j + 4] = (m[:, j] & 63) | ((m[:, j + 4] >> 4) << 6)
        out[:, j + 8] = (sc[:, j + 4] & 15) | ((m[:, j + 4] & 15) << 4)
    return out


def quantize_k_affine(x, levels):
    """Q4_K (levels 15) / Q5_K (levels 31) codes: per 32-value sub-block x ~ d*sc*q - dmin*m."""
    sub = x.reshape(-1, 8, 32)
    n = sub.shape[0]
    lo = np.minimum(sub.min(axis=-1), 0)
    step = (sub.max(axis=-1) - lo) / levels
    d = (step.max(axis=-1) / 63).astype(np.float16)
    dmin = ((-lo).max(axis=-1) / 63).astype(np.float16)
    df, dminf = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    sc = np.clip(np.round(step / np.where(df == 0, 1, df)), 1, 63).astype(np.uint8)
    m = np.clip(np.round(-lo / np.where(dminf == 0, 1, dminf)), 0, 63).astype(np.uint8)
    scale = (df * sc)[..., None]
    offset = (dminf * m)[..., None]
    q = np.clip(np.round((sub + offset) / np.where(scale == 0, 1, scale)), 0, levels).astype(np.uint8)
    header = np.concatenate([f16_bytes(d), f16_bytes(dmin), pack_k_scales(sc, m)], axis=1)
    return header, q.reshape(n, QK)


def quantize_q4_k(x):
    header, q = quantize_k_affine(x, 15)
    q = q.reshape(-1, 4, 2, 32)
    qs = (q[:, :, 0, :] | (q[:, :, 1, :] << 4)).reshape(-1, 128)
    return np.concatenate([header, qs], axis=1)


def quantize_q5_k(x):
    header, q = quantize_k_affine(x, 31)
    low = (q & 15).reshape(-1, 4, 2, 32)
    qs = (low[:, :, 0, :] | (low[:, :, 1, :] << 4)).reshape(-1, 128)
    high = (q >> 4).reshape(-1, 8, 32)
    qh = np.zeros((q.shape[0], 32), dtype=np.uint8)
    for j in range(8):
        qh |= high[:, j, :] << j
    return np.concatenate([header, qh, qs], axis=1)


def quantize_q6_k(x):
    sub = x.reshape(-1, 16, 16)
    n = sub.shape[0]
    step = np.abs(sub).max(axis=-1) / 31
    d = (step.max(axis=-1) / 127).astype(np.float16)
    df = d.astype(np.float32)[:, None]
    sc = np.clip(np.round(step / np.where(df == 0, 1, df)), 1, 127).astype(np.int8)
    scale = (df * sc)[..., None]
    q = (np.clip(np.round(sub / np.where(scale == 0, 1, scale)), -32, 31) + 32).astype(np.uint8).reshape(n, 2, 4, 32)
    ql = np.zeros((n, 2, 2, 32), dtype=np.uint8)
    qh = np.zeros((n, 2, 32), dtype=np.uint8)
    for k in range(4):
        ql[:, :, k % 2, :] |= (q[:, :, k, :] & 15) << (4 * (k // 2))
        qh |= (q[:, :, k, :] >> 4) << (2 * k)
    return np.concatenate([ql.reshape(n, 128), qh.reshape(n, 64), sc.view(np.uint8), f16_bytes(d)], axis=1)


K_QUANTIZERS = {T.Q4_K: quantize_q4_k, T.Q5_K: quantize_q5_k, T.Q6_K: quantize_q6_k}


def normal_data(rng, n):
    # Rows of different magnitudes, some with an offset, as real weight rows have.
    x = rng.standard_normal(n).astype(np.float32)
    x *= np.repeat(np.exp(rng.uniform(-4, 1, n // 32)), 32).astype(np.float32)
    x += np.repeat(rng.normal(0, 0.01, n // 32), 32).astype(np.float32)
    return x


def float_random_bits(rng, qtype, n):
    """Random finite values: random mantissas and signs, exponents within 2^-20 .. 2^20."""
    if qtype == T.F32:
        bits = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
        exponent = rng.integers(127 - 20, 127 + 20, n, dtype=np.uint32)
        return ((bits & 0x807FFFFF) | (exponent << 23)).astype(np.uint32).view(np.uint8).reshape(n, 4)
    if qtype == T.F16:
        bits = rng.integers(0, 2**16, n, dtype=np.uint32).astype(np.uint16)
        exponent = rng.integers(1, 31, n).astype(np.uint16)  # 31 would be Inf/NaN
        return ((bits & 0x83FF) | (exponent << 10)).astype(np.uint16).view(np.uint8).reshape(n, 2)
    bits = rng.integers(0, 2**16, n, dtype=np.uint32).astype(np.uint16)
    exponent = rng.integers(127 - 20, 127 + 20, n).astype(np.uint16)
    return ((bits & 0x807F) | (exponent << 7)).astype(np.uint16).view(np.uint8).reshape(n, 2)


def make_type(qtype, seed):
    rng = np.random.default_rng(seed)
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    if qtype in (T.F32, T.F16, T.BF16):
        n_random, n_normal = 512, 512
        random_part = float_random_bits(rng, qtype, n_random)
        normal_part = np.asarray(quantize(normal_data(rng, n_normal), qtype)).view(np.uint8)
        normal_part = normal_part.reshape(n_normal, block_bytes)
    else:
        n_random, n_normal = (4, 4) if block_size == QK else (16, 16)
        random_part = random_blocks(rng, qtype, n_random)
        x = normal_data(rng, n_normal * block_size)
        if qtype in K_QUANTIZERS:
            normal_part = K_QUANTIZERS[qtype](x)
        else:
            normal_part = quantize(x, qtype).reshape(n_normal, block_bytes)
    blocks = np.ascontiguousarray(np.concatenate([random_part, normal_part]), dtype=np.uint8)
    assert blocks.shape[1] == block_bytes
    values = dequantize(blocks.reshape(-1), qtype).astype(np.float32).reshape(-1)
    assert values.size == blocks.shape[0] * block_size and np.isfinite(values).all()
    header = b"EMQB" + struct.pack("<6I", 1, int(qtype), block_size, block_bytes, blocks.shape[0], n_random)
    with open(os.path.join(OUT, f"{qtype.name}.dat"), "wb") as f:
        f.write(header + blocks.tobytes() + values.astype("<f4").tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    types = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K]
    for seed, qtype in enumerate(types):
        make_type(qtype, 1000 + seed)


if __name__ == "__main__":
    main()
