#!/usr/bin/env python3
"""Reference goldens for Ember's end-to-end correctness test.

The reference is Hugging Face transformers with torch, running the GGUF's weights as the `gguf`
package dequantizes them, in float64: no activation quantization, no F16 rounding, so it is the
model's exact output. For each prompt: its token ids, the logits of its last position, and 64
greedy tokens (argmax, not stopping at end tokens) with the reference's top-2 logit margin at every
step, so that the test can tell a real bug from a near-tie where two implementations may
legitimately differ.

llama.cpp (through llama-cpp-python, its default F16 KV cache) runs the same prompts, and its
last-position logits are stored beside the reference's: the test checks that Ember is at least as
close to the exact output as llama.cpp.

Run (needs `pip install torch transformers accelerate gguf numpy llama-cpp-python`; CI never runs this, it only
reads the output):
    python3 scripts/goldens/make_generation_goldens.py [MODEL.gguf]
MODEL defaults to the default model in Ember's cache (the path `ember pull smollm2` prints).
Writes to Tests/EmberEngineTests/Fixtures: generation_goldens.json, reference_logits.f16 and
llamacpp_logits.f16 (last-position logits, float16 little-endian, one row of n_vocab per prompt).
"""
import json
import os
import subprocess
import sys

import llama_cpp
import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWrite a haiku about autumn leaves.<|im_end|>\n<|im_start|>assistant\n",
    "List three primary colors:\n1.",
    "Photosynthesis is the process by which plants",
    "Q: What is 12 times 7?\nA:",
    "The quick brown fox jumps over the lazy dog. The quick brown fox",
    "In 1969, Neil Armstrong",
]
STEPS = 64


def reference_run(model, tokens):
    """Last-position logits of the prompt, then 64 greedy steps with their top-2 margins."""
    with torch.no_grad():
        out = model(torch.tensor([tokens]), use_cache=True)
        prompt_logits = out.logits[0, -1].clone()
        row, past = prompt_logits, out.past_key_values
        generated, margins = [], []
        for _ in range(STEPS):
            top2 = torch.topk(row, 2)
            token = int(top2.indices[0])
            generated.append(token)
            margins.append(round(float(top2.values[0] - top2.values[1]), 5))
            out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
            row, past = out.logits[0, -1], out.past_key_values
    return prompt_logits.numpy(), generated, margins


def llamacpp_logits(path, token_lists):
    llm = llama_cpp.Llama(model_path=path, n_ctx=1024, n_batch=512, n_threads=2, verbose=False, seed=0)
    rows = []
    for tokens in token_lists:
        llm.reset()
        llm.eval(tokens)
        # llama-cpp-python's `scores` is not filled by eval(); read llama.cpp's output row directly.
        row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        rows.append(np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float32).copy())
    return rows, f"llama.cpp via llama-cpp-python {llama_cpp.__version__}, n_threads=2, default F16 KV cache"


def main():
    ember = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "ember")
    path = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        [ember, "pull", "--quiet", "smollm2"], capture_output=True, text=True, check=True).stdout.strip()
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EmberEngineTests", "Fixtures")
    directory, name = os.path.split(os.path.abspath(path))
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float64).eval()

    cases, logit_rows = [], []
    for prompt in PROMPTS:
        tokens = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        logits, generated, margins = reference_run(model, tokens)
        logit_rows.append(logits)
        text = tokenizer.decode(generated)
        cases.append({"prompt": prompt, "prompt_tokens": tokens, "greedy_tokens": generated, "top2_margins": margins,
                      "reference_text": text})
        print(f"{len(tokens):3d} prompt tokens -> {text[:60]!r}", file=sys.stderr)
    golden = {
        "reference": f"transformers {transformers.__version__} with torch {torch.__version__}, float64, "
                     "weights dequantized from the GGUF",
        "model": name,
        "vocabulary_size": int(logit_rows[0].size),
        "steps": STEPS,
        "cases": cases,
    }
    rows, golden["llamacpp"] = llamacpp_logits(path, [case["prompt_tokens"] for case in cases])
    np.stack(rows).astype("<f2").tofile(os.path.join(out_dir, "llamacpp_logits.f16"))
    with open(os.path.join(out_dir, "generation_goldens.json"), "w") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    np.stack(logit_rows).astype("<f2").tofile(os.path.join(out_dir, "reference_logits.f16"))


if __name__ == "__main__":
    main()
