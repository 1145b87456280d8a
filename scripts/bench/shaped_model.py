#!/usr/bin/env python3
"""A GGUF with the shapes of a real model and random weights, for speed and memory measurements where
the real file cannot be downloaded (Hugging Face is out of reach here; PyPI is not).

Each preset copies a published model's config.json: its architecture, widths, layer and head counts,
head width, vocabulary size, RoPE and window settings, tied or separate output. Weights are random
(normal, std 0.02; norms 1), written in F16, then quantized by llama.cpp's own quantizer
(llama-cpp-python's llama_model_quantize) to the type asked for, Q4_K_M by default: the same tensor
types, sizes and layout as the real Q4_K_M file, so both engines do the same work on it. The
vocabulary is a synthetic SentencePiece one of the real size (the tokenizer is not what is measured).

Run (needs `pip install gguf numpy llama-cpp-python`):
    python3 scripts/bench/shaped_model.py PRESET [--type Q4_K_M] [--out DIR] [--quantizer numpy]
Presets: smollm2-135m, qwen2.5-0.5b, qwen3-0.6b, gemma3-1b, llama3.2-1b, phi3.5-mini. Prints the path
of the file. `--quantizer numpy` writes every matrix in the type asked for (F16, Q8_0, Q4_0, Q4_1)
with the gguf package's own quantizer instead of llama.cpp's, for machines without llama-cpp-python
(the GPU machine of scripts/gpu-check).
"""
import argparse
import ctypes
import os
import sys

import gguf
import numpy as np

PRESETS = {
    # HuggingFaceTB/SmolLM2-135M-Instruct (Ember's default model)
    "smollm2-135m": dict(arch="llama", embd=576, layers=30, heads=9, kv=3, ff=1536, vocab=49152, context=8192,
                         rope_base=100000.0, eps=1e-5, tied=True),
    # Qwen/Qwen2.5-0.5B-Instruct
    "qwen2.5-0.5b": dict(arch="qwen2", embd=896, layers=24, heads=14, kv=2, ff=4864, vocab=151936, context=32768,
                         rope_base=1e6, eps=1e-6, tied=True, qkv_bias=True),
    # Qwen/Qwen3-0.6B
    "qwen3-0.6b": dict(arch="qwen3", embd=1024, layers=28, heads=16, kv=8, head_dim=128, ff=3072, vocab=151936,
                       context=40960, rope_base=1e6, eps=1e-6, tied=True, qk_norm=True),
    # google/gemma-3-1b-it
    "gemma3-1b": dict(arch="gemma3", embd=1152, layers=26, heads=4, kv=1, head_dim=256, ff=6912, vocab=262144,
                      context=32768, rope_base=1e6, eps=1e-6, tied=True, qk_norm=True, window=512),
    # meta-llama/Llama-3.2-1B-Instruct
    "llama3.2-1b": dict(arch="llama", embd=2048, layers=16, heads=32, kv=8, ff=8192, vocab=128256, context=131072,
                        rope_base=500000.0, eps=1e-5, tied=True, llama3_scaling=(32.0, 1.0, 4.0, 8192)),
    # microsoft/Phi-3.5-mini-instruct (its LongRoPE factors left out: a 4k-context run takes the short ones)
    "phi3.5-mini": dict(arch="phi3", embd=3072, layers=32, heads=32, kv=32, ff=8192, vocab=32064, context=4096,
                        rope_base=10000.0, eps=1e-5, tied=False, fused=True,
                        specials={32000: "<|endoftext|>", 32001: "<|assistant|>", 32006: "<|system|>", 32007: "<|end|>",
                                  32010: "<|user|>"}),
}

FTYPES = {"Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "F16": 1}


def vocabulary(size, specials=None):
    """A SentencePiece vocabulary of `size` tokens: unk, bos, eos, the 256 byte tokens, then pieces, with
    the model's own control tokens at their ids (llama.cpp looks some up by name)."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    letters = "abcdefghijklmnopqrstuvwxyz"
    index = 0
    while len(tokens) < size:
        word, n = "", index
        while True:
            word = letters[n % 26] + word
            n = n // 26 - 1
            if n < 0:
                break
        tokens.append(("\u2581" if index % 2 == 0 else "") + word)
        types.append(1)
        index += 1
    for index, text in (specials or {}).items():
        tokens[index], types[index] = text, 3
    scores = [0.0] * 259 + [-float(i) for i in range(size - 259)]
    return tokens, scores, types


def write_f16(preset, path, matrix_type="F16"):
    """Writes the model with every matrix in F16, or in `matrix_type` through gguf's numpy quantizer."""
    p = PRESETS[preset]
    arch, embd, heads, kv = p["arch"], p["embd"], p["heads"], p["kv"]
    hd = p.get("head_dim", embd // heads)
    q_width, kv_width = heads * hd, kv * hd
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(f"{preset} (random weights, real shapes)")
    writer.add_context_length(p["context"])
    writer.add_embedding_length(embd)
    writer.add_block_count(p["layers"])
    writer.add_feed_forward_length(p["ff"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv)
    writer.add_key_length(hd)
    writer.add_value_length(hd)
    writer.add_layer_norm_rms_eps(p["eps"])
    writer.add_rope_freq_base(p["rope_base"])
    writer.add_file_type(FTYPES[matrix_type])
    if arch == "phi3":
        writer.add_rope_dimension_count(hd)
    if "window" in p:
        writer.add_sliding_window(p["window"])
    if "llama3_scaling" in p:
        factor, low, high, original = p["llama3_scaling"]
        writer.add_rope_scaling_type(gguf.RopeScalingType.NONE)  # llama.cpp reads rope_freqs instead
        pairs = hd // 2
        base = p["rope_base"]
        frequencies = []
        for i in range(pairs):
            wavelength = 2 * np.pi * base ** (2 * i / hd)
            if wavelength < original / high:
                frequencies.append(1.0)
            elif wavelength > original / low:
                frequencies.append(factor)
            else:
                smooth = (original / wavelength - low) / (high - low)
                frequencies.append(1 / ((1 - smooth) / factor + smooth))
        writer.add_tensor("rope_freqs.weight", np.array(frequencies, dtype=np.float32))
    tokens, scores, types = vocabulary(p["vocab"], p.get("specials"))
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)

    quantization = getattr(gguf.GGMLQuantizationType, matrix_type)

    def matrix(name, rows, columns):  # ggml shape (columns, rows): rows of `columns` values
        values = rng.standard_normal((rows, columns), dtype=np.float32) * 0.02
        if matrix_type == "F16":
            writer.add_tensor(name, values.astype(np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(values, quantization), raw_dtype=quantization)

    def ones(name, count):
        writer.add_tensor(name, np.ones(count, dtype=np.float32))

    matrix("token_embd.weight", p["vocab"], embd)
    ones("output_norm.weight", embd)
    if not p["tied"]:
        matrix("output.weight", p["vocab"], embd)
    for layer in range(p["layers"]):
        name = lambda tensor: f"blk.{layer}.{tensor}"
        ones(name("attn_norm.weight"), embd)
        ones(name("ffn_norm.weight"), embd)
        if p.get("fused"):
            matrix(name("attn_qkv.weight"), q_width + 2 * kv_width, embd)
            matrix(name("ffn_up.weight"), 2 * p["ff"], embd)
        else:
            matrix(name("attn_q.weight"), q_width, embd)
            matrix(name("attn_k.weight"), kv_width, embd)
            matrix(name("attn_v.weight"), kv_width, embd)
            matrix(name("ffn_gate.weight"), p["ff"], embd)
            matrix(name("ffn_up.weight"), p["ff"], embd)
        matrix(name("attn_output.weight"), embd, q_width)
        matrix(name("ffn_down.weight"), embd, p["ff"])
        if p.get("qkv_bias"):
            for part, width in (("q", q_width), ("k", kv_width), ("v", kv_width)):
                writer.add_tensor(name(f"attn_{part}.bias"), (rng.standard_normal(width, dtype=np.float32) * 0.02))
        if p.get("qk_norm"):
            ones(name("attn_q_norm.weight"), hd)
            ones(name("attn_k_norm.weight"), hd)
        if arch == "gemma3":
            ones(name("post_attention_norm.weight"), embd)
            ones(name("post_ffw_norm.weight"), embd)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("preset", choices=sorted(PRESETS))
    parser.add_argument("--type", default="Q4_K_M", choices=sorted(FTYPES))
    parser.add_argument("--out", default=os.path.join(os.environ.get("EMBER_HOME", os.path.expanduser("~/.cache/ember")), "bench"))
    parser.add_argument("--quantizer", default="llama.cpp", choices=["llama.cpp", "numpy"])
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.preset}.random.{args.type}.gguf")
    if os.path.exists(path):
        print(path)
        return
    if args.quantizer == "numpy":
        if args.type not in ("F16", "Q8_0", "Q4_0", "Q4_1"):
            sys.exit(f"the numpy quantizer writes F16, Q8_0, Q4_0 and Q4_1, not {args.type}")
        write_f16(args.preset, path + ".tmp", args.type)
        os.rename(path + ".tmp", path)
        print(path)
        return
    source = os.path.join(args.out, f"{args.preset}.random.F16.gguf")
    if not os.path.exists(source):
        write_f16(args.preset, source + ".tmp")
        os.rename(source + ".tmp", source)
    if args.type != "F16":
        import llama_cpp
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = FTYPES[args.type]
        # The quantizer reports each tensor on stdout: send that to stderr, so stdout is only the path.
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            failed = llama_cpp.llama_model_quantize(source.encode(), (path + ".tmp").encode(), ctypes.byref(params)) != 0
        finally:
            os.dup2(saved, 1)
        if failed:
            sys.exit(f"llama.cpp could not quantize {source}")
        os.rename(path + ".tmp", path)
    print(path)


if __name__ == "__main__":
    main()
