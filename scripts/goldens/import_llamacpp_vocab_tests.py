#!/usr/bin/env python3
"""llama.cpp's own tokenizer tests as fixtures for EmberTokenizer.

llama.cpp's source tree (models/, also inside the llama-cpp-python source package on PyPI) ships
vocab-only GGUFs, `ggml-vocab-NAME.gguf`, each with `.inp` (inputs separated by lines
`__ggml_vocab_test__`) and `.out` (llama.cpp's token ids for each input, one line each, from its
test-tokenizer-0: no special tokens added, none parsed). For each NAME given, this writes into
Tests/EmberTokenizerTests/Fixtures/:
  llamacpp_vocab_NAME.json   the GGUF's metadata as typed JSON (no model files in git; the Swift
                             tests write it back to a temporary GGUF)
  llamacpp_vocab_NAME.inp    the inputs, as llama.cpp has them
  llamacpp_vocab_NAME.out    the expected ids, as llama.cpp has them

Run (needs `pip install gguf`; CI never runs this, it only reads the output):
    python3 scripts/goldens/import_llamacpp_vocab_tests.py LLAMA_CPP/models phi-3 llama-spm
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
from gguf_json import write_metadata_json  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EmberTokenizerTests", "Fixtures")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    models, names = sys.argv[1], sys.argv[2:]
    for name in names:
        source = os.path.join(models, f"ggml-vocab-{name}.gguf")
        target = os.path.join(FIXTURES, f"llamacpp_vocab_{name}")
        write_metadata_json(source, target + ".json")
        for suffix in ["inp", "out"]:
            shutil.copyfile(f"{source}.{suffix}", f"{target}.{suffix}")
        print(f"{name}: {os.path.getsize(target + '.json')} bytes of metadata")


if __name__ == "__main__":
    main()
