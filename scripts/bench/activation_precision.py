#!/usr/bin/env python3
"""How much the rounding of activations moves SmolLM2's logits: the evidence behind Ember's 16-bit
activation quants (Sources/EmberCompute/QuantizedActivations.swift).

Evaluates the model in float64 numpy on the weights as the `gguf` package dequantizes them, once
exactly and once per rounding scheme: activations quantized in blocks of 32 (8 bits as ggml's Q8_0 /
Q8_1, or 16 bits as Ember) before every matmul or only before one kind of matmul, and the K/V cache
rounded to F16. Prints, per scheme, the cosine similarity of the last-position logits with the exact
ones on the golden prompts (Tests/EmberEngineTests/Fixtures/generation_goldens.json).

Run (needs `pip install gguf numpy`; the default model is fetched by `ember pull smollm2`):
    python3 scripts/bench/activation_precision.py [MODEL.gguf]
"""
import json
import os
import subprocess
import sys

import gguf
import numpy as np
from gguf.quants import dequantize

MATMULS = ("qkv", "attn_output", "gate_up", "down", "output")


def load(path):
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}

    def meta(key):
        field = reader.fields[key]
        return field.parts[field.data[0]][0]

    def weight(name):
        t = tensors[name]
        return dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(d) for d in reversed(t.shape)])

    names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
    model = {
        "layers": [{k: weight(f"blk.{i}.{k}.weight") for k in names} for i in range(int(meta("llama.block_count")))],
        "heads": int(meta("llama.attention.head_count")),
        "kv_heads": int(meta("llama.attention.head_count_kv")),
        "eps": float(meta("llama.attention.layer_norm_rms_epsilon")),
        "base": float(meta("llama.rope.freq_base")),
        "embedding": weight("token_embd.weight"),
        "output_norm": weight("output_norm.weight"),
    }
    model["output"] = weight("output.weight") if "output.weight" in tensors else model["embedding"]
    return model


def quantize(x, bits):
    """x with each block of 32 values rounded to `bits`-bit integers times the block's scale."""
    limit = 2 ** (bits - 1) - 1
    blocks = x.reshape(*x.shape[:-1], -1, 32)
    amax = np.abs(blocks).max(-1, keepdims=True)
    scale = np.where(amax > 0, amax / limit, 1)
    return (np.round(blocks / scale) * scale).reshape(x.shape)


def forward(m, tokens, bits=None, where=MATMULS, f16_cache=False):
    def q(kind, x):
        return quantize(x, bits) if bits and kind in where else x

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + m["eps"]) * w

    cache = (lambda v: v.astype(np.float16).astype(np.float64)) if f16_cache else (lambda v: v)
    n, heads, kv_heads = len(tokens), m["heads"], m["kv_heads"]
    embd = m["embedding"].shape[1]
    hd = embd // heads
    angles = np.arange(n)[:, None] * m["base"] ** (-np.arange(0, hd, 2) / hd)[None]
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]

    def rope(v):  # GGUF stores Q/K for rotation of adjacent pairs
        a, b = v[..., 0::2], v[..., 1::2]
        out = np.empty_like(v)
        out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        return out

    x = m["embedding"][tokens]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for w in m["layers"]:
        h = q("qkv", rms(x, w["attn_norm"]))
        queries = rope((h @ w["attn_q"].T).reshape(n, heads, hd))
        keys = np.repeat(cache(rope((h @ w["attn_k"].T).reshape(n, kv_heads, hd))), heads // kv_heads, 1)
        values = np.repeat(cache((h @ w["attn_v"].T).reshape(n, kv_heads, hd)), heads // kv_heads, 1)
        scores = np.einsum("qhd,khd->hqk", queries, keys) / np.sqrt(hd) + mask
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attention = np.einsum("hqk,khd->qhd", scores, values).reshape(n, embd)
        x = x + q("attn_output", attention) @ w["attn_output"].T
        h = q("gate_up", rms(x, w["ffn_norm"]))
        gate, up = h @ w["ffn_gate"].T, h @ w["ffn_up"].T
        x = x + q("down", gate / (1 + np.exp(-gate)) * up) @ w["ffn_down"].T
    return q("output", rms(x[-1], m["output_norm"])) @ m["output"].T


def main():
    ember = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "ember")
    path = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        [ember, "pull", "--quiet", "smollm2"], capture_output=True, text=True, check=True).stdout.strip()
    goldens = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EmberEngineTests", "Fixtures",
                           "generation_goldens.json")
    with open(goldens) as f:
        prompts = [case["prompt_tokens"] for case in json.load(f)["cases"]]
    m = load(path)
    exact = [forward(m, tokens) for tokens in prompts]
    schemes = [("8-bit activations, every matmul", dict(bits=8)),
               ("16-bit activations, every matmul", dict(bits=16)),
               ("F16 K/V cache only", dict(f16_cache=True)),
               ("16-bit activations + F16 K/V cache", dict(bits=16, f16_cache=True))]
    schemes += [(f"8-bit activations, {kind} only", dict(bits=8, where=(kind,))) for kind in MATMULS]
    print("| rounding | worst cosine | mean cosine |\n| --- | --- | --- |")
    for name, options in schemes:
        cosines = [float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
                   for a, b in zip((forward(m, tokens, **options) for tokens in prompts), exact)]
        print(f"| {name} | {min(cosines):.6f} | {np.mean(cosines):.6f} |", flush=True)


if __name__ == "__main__":
    main()
