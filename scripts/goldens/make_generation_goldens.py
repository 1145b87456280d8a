#!/usr/bin/env python3
"""Reference goldens for Ember's end-to-end correctness test, made by llama.cpp (llama-cpp-python).

For each prompt: the prompt's token ids, the logits of its last position, and 64 greedy tokens
(argmax, not stopping at end tokens) with the reference's top-2 logit margin at every step, so that
the test can tell a real bug from a near-tie where two implementations may legitimately differ.

Run (needs `pip install llama-cpp-python numpy`; CI never runs this, it only reads the output):
    python3 scripts/goldens/make_generation_goldens.py [MODEL.gguf]
MODEL defaults to $EMBER_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf (fetch it with `ember inspect`).
Writes Tests/EmberEngineTests/Fixtures/generation_goldens.json and generation_logits.f16
(the last-position logits of every prompt, float16 little-endian, one row of n_vocab per prompt).
"""
import json
import os
import sys

import numpy as np
import llama_cpp

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
THREADS = 2


def last_logits(llm):
    # llama-cpp-python's `scores` is not filled by eval(); read llama.cpp's output row directly.
    row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).astype(np.float32).copy()


def main():
    home = os.environ.get("EMBER_HOME", os.path.expanduser("~/.cache/ember"))
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    out_dir = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EmberEngineTests", "Fixtures")
    # Attention in full precision (F32 KV cache, no flash attention, which rounds Q and the softmax
    # weights to F16): on this small model F16 rounding alone moves the reference's own logits to a
    # cosine of ~0.998, so a rounded reference would measure rounding policy, not correctness.
    llm = llama_cpp.Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=THREADS, verbose=False, seed=0,
                          flash_attn=False, type_k=0, type_v=0)
    cases, logit_rows = [], []
    for prompt in PROMPTS:
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        llm.reset()
        llm.eval(tokens)
        logit_rows.append(last_logits(llm).astype(np.float16))
        generated, margins = [], []
        for _ in range(STEPS):
            row = last_logits(llm)
            top2 = np.argsort(row)[-2:][::-1]
            generated.append(int(top2[0]))
            margins.append(round(float(row[top2[0]] - row[top2[1]]), 5))
            llm.eval([int(top2[0])])
        cases.append({"prompt": prompt, "prompt_tokens": tokens, "greedy_tokens": generated, "top2_margins": margins,
                      "reference_text": llm.detokenize(generated).decode("utf-8", errors="replace")})
        print(f"{len(tokens):3d} prompt tokens -> {llm.detokenize(generated)[:60]!r}", file=sys.stderr)
    golden = {
        "reference": f"llama.cpp via llama-cpp-python {llama_cpp.__version__}, n_threads={THREADS}, F32 KV cache, no flash-attn",
        "model": os.path.basename(model),
        "vocabulary_size": int(llm.n_vocab()),
        "steps": STEPS,
        "cases": cases,
    }
    with open(os.path.join(out_dir, "generation_goldens.json"), "w") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
        f.write("\n")
    np.stack(logit_rows).astype("<f2").tofile(os.path.join(out_dir, "generation_logits.f16"))


if __name__ == "__main__":
    main()
