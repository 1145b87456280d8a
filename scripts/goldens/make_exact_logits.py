#!/usr/bin/env python3
"""A second, exact reference for Ember's parity test: the llama forward pass in float64 numpy on the
weights as the `gguf` package dequantizes them (no 8-bit activations, no F16 rounding anywhere).

llama.cpp quantizes activations and rounds intermediate values, and on this small model that alone
moves its logits to a cosine of ~0.994 from the exact result at a few sensitive positions. This
reference tells an Ember bug (far from both) from llama.cpp's own rounding (Ember near the exact one).

Run (needs `pip install gguf numpy`; CI never runs this, it only reads the output):
    python3 scripts/goldens/make_exact_logits.py [MODEL.gguf]
Reads the prompts' token ids from Tests/EmberEngineTests/Fixtures/generation_goldens.json and writes
exact_logits.f16 beside it: the last-position logits of every prompt, float16, one row per prompt.
"""
import json
import os
import sys

import gguf
import numpy as np
from gguf.quants import dequantize


def main():
    home = os.environ.get("EMBER_HOME", os.path.expanduser("~/.cache/ember"))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    fixtures = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EmberEngineTests", "Fixtures")
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}

    def meta(key):
        field = reader.fields[key]
        return field.parts[field.data[0]][0]

    def weight(name):
        t = tensors[name]
        return dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(d) for d in reversed(t.shape)])

    layers = int(meta("llama.block_count"))
    heads, kv_heads = int(meta("llama.attention.head_count")), int(meta("llama.attention.head_count_kv"))
    embd = int(meta("llama.embedding_length"))
    hd = embd // heads
    eps, base = float(meta("llama.attention.layer_norm_rms_epsilon")), float(meta("llama.rope.freq_base"))
    embedding = weight("token_embd.weight")
    output = weight("output.weight") if "output.weight" in tensors else embedding
    output_norm = weight("output_norm.weight")
    blocks = [{k: weight(f"blk.{i}.{k}.weight") for k in
               ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]}
              for i in range(layers)]

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def forward(tokens):
        n = len(tokens)
        angles = np.arange(n)[:, None] * base ** (-np.arange(0, hd, 2) / hd)[None]
        cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]

        def rope(q):  # GGUF stores Q/K for rotation of adjacent pairs
            a, b = q[..., 0::2], q[..., 1::2]
            out = np.empty_like(q)
            out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
            return out

        x = embedding[tokens]
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for b in blocks:
            h = rms(x, b["attn_norm"])
            q = rope((h @ b["attn_q"].T).reshape(n, heads, hd))
            k = np.repeat(rope((h @ b["attn_k"].T).reshape(n, kv_heads, hd)), heads // kv_heads, 1)
            v = np.repeat((h @ b["attn_v"].T).reshape(n, kv_heads, hd), heads // kv_heads, 1)
            scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            x = x + np.einsum("hqk,khd->qhd", scores, v).reshape(n, embd) @ b["attn_output"].T
            h = rms(x, b["ffn_norm"])
            gate, up = h @ b["ffn_gate"].T, h @ b["ffn_up"].T
            x = x + (gate / (1 + np.exp(-gate)) * up) @ b["ffn_down"].T
        return rms(x[-1], output_norm) @ output.T

    with open(os.path.join(fixtures, "generation_goldens.json")) as f:
        cases = json.load(f)["cases"]
    rows = [forward(case["prompt_tokens"]) for case in cases]
    np.stack(rows).astype("<f2").tofile(os.path.join(fixtures, "exact_logits.f16"))


if __name__ == "__main__":
    main()
