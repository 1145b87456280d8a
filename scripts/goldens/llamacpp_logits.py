"""The three steps of scripts/llamacpp-logits, each in the virtual environment that has its library.

  llama WORK NAME...         llama.cpp's logits at every position of each prompt, for WORK/NAME.gguf
                             (WORK/NAME.npz), and the prompts' token ids (WORK/prompts.json)
  reference WORK CHECKPOINT  transformers' float64 logits for the same ids (WORK/reference.npz)
  compare WORK NAME...       per file: lowest cosine and largest difference against the reference, top-1
                             agreement, whether its tensors are the next file's byte for byte, and
                             whether llama.cpp's logits on it equal those on the next file
"""
import json
import os
import sys

import numpy as np

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
    "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
    "Once upon a time, in a small village by the mountains, there lived",
]


def llama(work, names):
    import llama_cpp

    ids = None
    for name in names:
        model = llama_cpp.Llama(os.path.join(work, name + ".gguf"), n_ctx=256, n_threads=os.cpu_count(),
                                logits_all=True, verbose=False)
        if ids is None:
            ids = [model.tokenize(text.encode(), add_bos=False, special=True) for text in PROMPTS]
            with open(os.path.join(work, "prompts.json"), "w") as f:
                json.dump(ids, f)
        logits = {}
        for index, prompt in enumerate(ids):
            model.reset()
            model.eval(prompt)
            logits[str(index)] = np.array(model.scores[: len(prompt)], dtype=np.float64)
        np.savez(os.path.join(work, name + ".npz"), **logits)


def reference(work, checkpoint):
    import torch
    import transformers

    with open(os.path.join(work, "prompts.json")) as f:
        ids = json.load(f)
    model = transformers.AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float64).eval()
    with torch.no_grad():
        logits = {str(i): model(torch.tensor([prompt])).logits[0].numpy() for i, prompt in enumerate(ids)}
    np.savez(os.path.join(work, "reference.npz"), **logits)


def tensors(path):
    import gguf

    reader = gguf.GGUFReader(path)
    return {t.name: (t.tensor_type, bytes(t.data.tobytes())) for t in reader.tensors}


def compare(work, names):
    ref = np.load(os.path.join(work, "reference.npz"))
    results = {}
    for name in names:
        got = np.load(os.path.join(work, name + ".npz"))
        cosines, differences, agree, total = [], [], 0, 0
        for key in ref.files:
            a, b = got[key], ref[key]
            cosines += list((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))
            differences.append(np.abs(a - b).max())
            agree += int((a.argmax(1) == b.argmax(1)).sum())
            total += len(a)
        results[name] = got
        print(f"{name:16} llama.cpp vs float64: lowest cosine {min(cosines):.7f}, largest |diff| {max(differences):.4f}, "
              f"top-1 {agree}/{total}")
    for ours, theirs in zip(names[0::2], names[1::2]):
        a, b = tensors(os.path.join(work, ours + ".gguf")), tensors(os.path.join(work, theirs + ".gguf"))
        same = sorted(n for n in a if n in b and a[n] == b[n])
        differ = sorted(n for n in a if n in b and a[n] != b[n])
        only = sorted(set(a) ^ set(b))
        equal = all(np.array_equal(results[ours][k], results[theirs][k]) for k in ref.files)
        largest = max(np.abs(results[ours][k] - results[theirs][k]).max() for k in ref.files)
        print(f"{ours} vs {theirs}: {len(same)} tensors byte-equal, {len(differ)} differ {differ[:4]}, "
              f"{len(only)} in one only {only[:4]}; llama.cpp's logits {'identical' if equal else f'differ by up to {largest:.5f}'}")


if __name__ == "__main__":
    step, work, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"llama": lambda: llama(work, rest), "reference": lambda: reference(work, rest[0]),
     "compare": lambda: compare(work, rest)}[step]()
