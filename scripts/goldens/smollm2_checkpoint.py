#!/usr/bin/env python3
"""The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) saved as a Hugging Face checkpoint by
transformers itself: it reads the GGUF (dequantizing the weights), and saves the model with its
safetensors, config.json and generation_config.json, and the tokenizer with its tokenizer.json,
tokenizer_config.json and chat template. The tokenizer.json is set as SmolLM2's repository publishes
it (digits split one by one before GPT-2's regex; transformers' GGUF reader leaves that out).

    python3 smollm2_checkpoint.py SMOLLM2_GGUF OUTPUT_DIR [float32|bfloat16]

float32 keeps the dequantized weights exactly (the greedy test against the float64 goldens);
bfloat16 is how real checkpoints are published (the load-time benchmark).
"""
import json
import os
import sys

import torch
import transformers


def main():
    gguf_path, output = sys.argv[1:3]
    dtype = getattr(torch, sys.argv[3] if len(sys.argv) > 3 else "float32")
    directory, name = os.path.split(os.path.abspath(gguf_path))
    model = transformers.AutoModelForCausalLM.from_pretrained(
        directory, gguf_file=name, dtype=dtype, quantization_config=transformers.GgufConfig(dequantize=True))
    # Dequantized, it is a plain model: saved as one, without the GGUF loader's quantization marks.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(output, safe_serialization=True, max_shard_size="200MB")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory, gguf_file=name)
    tokenizer.save_pretrained(output)
    path = os.path.join(output, "tokenizer.json")
    with open(path) as f:
        published = json.load(f)
    published["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    with open(path, "w") as f:
        json.dump(published, f, ensure_ascii=False)
    print(output)


if __name__ == "__main__":
    main()
