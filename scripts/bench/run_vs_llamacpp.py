#!/usr/bin/env python3
"""`ember run` against llama.cpp (llama-cpp-python) on the same model, prompt, threads and token count.

Runs both alternately, RUNS times each, and prints medians of prompt and generation tokens/s, plus
Ember's load time. Needs `pip install llama-cpp-python` and a release build of ember.
    python3 scripts/bench/run_vs_llamacpp.py [RUNS]
Never run it while anything else uses the CPU.
"""
import os, re, statistics, subprocess, sys, time
import llama_cpp
import numpy as np

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
THREADS, TOKENS = 2, 128
PROMPT = "The capital of France is"
EMBER = os.environ.get("EMBER_BIN", os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "ember"))
MODEL = subprocess.run([EMBER, "pull", "--quiet", "smollm2"], capture_output=True, text=True, check=True).stdout.strip()


def ember():
    # --ignore-eos: exactly TOKENS tokens, as the reference loop below, whatever the continuation.
    out = subprocess.run([EMBER, "run", "-m", MODEL, "-p", PROMPT, "-n", str(TOKENS), "--temp", "0",
                          "-t", str(THREADS), "--ignore-eos"], capture_output=True, text=True, check=True).stderr
    load, prompt, gen = re.search(r"load ([\d.]+) ms \| prompt \d+ tokens, ([\d.]+) tok/s \| generation \d+ tokens, ([\d.]+) tok/s", out).groups()
    return float(load), float(prompt), float(gen)


def reference(llm):
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    llm.reset()
    start = time.perf_counter()
    llm.eval(tokens)
    prompt_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(TOKENS):
        row = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        best = int(np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).argmax())
        llm.eval([best])
    return len(tokens) / prompt_s, TOKENS / (time.perf_counter() - start)


llm = llama_cpp.Llama(model_path=MODEL, n_ctx=1024, n_batch=512, n_threads=THREADS, n_threads_batch=THREADS, verbose=False)
ours, theirs = [], []
for _ in range(RUNS):
    ours.append(ember())
    theirs.append(reference(llm))
med = lambda xs: statistics.median(xs)
print(f"runs={RUNS} threads={THREADS} tokens={TOKENS} prompt={PROMPT!r}")
print(f"ember      load {med([o[0] for o in ours]):.1f} ms | prompt {med([o[1] for o in ours]):.1f} tok/s | generation {med([o[2] for o in ours]):.1f} tok/s")
print(f"llama.cpp  prompt {med([t[0] for t in theirs]):.1f} tok/s | generation {med([t[1] for t in theirs]):.1f} tok/s")
print(f"ratio ember/llama.cpp: prompt {med([o[1] for o in ours]) / med([t[0] for t in theirs]):.2f}, "
      f"generation {med([o[2] for o in ours]) / med([t[1] for t in theirs]):.2f}")
