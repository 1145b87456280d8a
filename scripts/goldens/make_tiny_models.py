#!/usr/bin/env python3
"""Tiny random-weight models of each architecture Ember runs, and their exact reference outputs.

For each architecture: a transformers model (a few layers, hidden 64, random weights with a fixed
seed) with a small SentencePiece tokenizer trained here on a fixed text, saved as a Hugging Face
checkpoint (config.json, safetensors, tokenizer) and converted to GGUF (F32) by llama.cpp's own
convert_hf_to_gguf.py. The reference is transformers itself in float64: for each prompt its token
ids, the logits of its last position, and 32 greedy tokens with the top-2 logit margin at every step
(so a test can tell a bug from a near-tie).

Writes into Tests/EmberModelTests/Fixtures/:
  tiny_<arch>.json            the model's GGUF as JSON (gguf_json.py: no model file is committed; the
                              test writes it back to a temporary GGUF), well under 2 MiB
  tiny_<arch>_checkpoint.json the Hugging Face checkpoint itself, as Ember reads one: config.json,
                              generation_config.json, the safetensors shards and their index, and the
                              tokenizer.json/tokenizer_config.json transformers makes of the
                              SentencePiece model ({"files": {name: {"text"} or {"base64"}}})
  tiny_<arch>_goldens.json    {"prompts": [{"text", "ids", "logits", "greedy", "margins"}], ...}

Run (CI never runs this, it only reads the output):
    pip install torch transformers sentencepiece protobuf safetensors numpy pyyaml
    python3 scripts/goldens/make_tiny_models.py [LLAMA_CPP_DIR] [ARCHITECTURE ...]
LLAMA_CPP_DIR holds convert_hf_to_gguf.py, conversion/ and gguf-py/; without it, llama.cpp comes
from the llama-cpp-python source package on PyPI (`pip download`: PyPI has no wheel of it), as the
tokenizer goldens' llama.cpp does.
"""
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import sentencepiece as spm
import torch
import transformers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "EmberModelTests", "Fixtures")
LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"
GREEDY_TOKENS = 32

PROMPTS = [
    "The quick brown fox",
    "Once upon a time, there was a small robot who",
    "1 2 3 4 5",
    "Hello, world! How are you today?",
]

# Each architecture: its transformers config. Hidden 64 throughout; everything else small.
ARCHITECTURES = {
    "llama": lambda vocab: transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2),
    "qwen2": lambda vocab: transformers.Qwen2Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=10000.0,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, use_sliding_window=False),
    # A head width of its own (32, not 64 / 4), as Qwen3's `head_dim`.
    "qwen3": lambda vocab: transformers.Qwen3Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=32, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=10000.0,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, use_sliding_window=False, attention_bias=False),
    # RoPE over half of each head, as Phi-3.5/Phi-4-mini's partial_rotary_factor.
    "phi3": lambda vocab: transformers.Phi3Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, original_max_position_embeddings=256,
        rms_norm_eps=1e-5, rope_theta=10000.0, partial_rotary_factor=0.5, tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, pad_token_id=0, sliding_window=None),
    # Six layers, as llama.cpp's default pattern makes every sixth global (the GGUF does not say which):
    # five local layers with a window of 8 (the prompts and their greedy tokens run far past it), a
    # head width of its own, one KV head, Gemma 3 4B's linear RoPE scaling on the global layer, and a
    # final logit softcap (Gemma 2's, which llama.cpp applies when the file has one).
    "gemma3": lambda vocab: transformers.Gemma3TextConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=64, num_hidden_layers=6, num_attention_heads=4,
        num_key_value_heads=1, head_dim=32, query_pre_attn_scalar=32, max_position_embeddings=256, rms_norm_eps=1e-6,
        sliding_window=8, layer_types=["sliding_attention"] * 5 + ["full_attention"],
        rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                         "full_attention": {"rope_type": "linear", "rope_theta": 1000000.0, "factor": 8.0}},
        final_logit_softcapping=30.0, tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0),
}

# Phi-3's 128k models: LongRoPE with short factors up to an original context of 64 and long ones past
# it (random factors around 1, the attention factor from max/original = 4). Goldens with the original
# context (transformers takes the short factors) and one prompt longer than it (the long ones).
LONGROPE_PAIRS = 4  # (64 / 4 heads) * 0.5 / 2
ARCHITECTURES["phi3-longrope"] = lambda vocab: transformers.Phi3Config(
    vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, max_position_embeddings=256, original_max_position_embeddings=64,
    rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0, sliding_window=None,
    rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.5,
                     "original_max_position_embeddings": 64,
                     "short_factor": [1.0, 1.3, 2.1, 3.7][:LONGROPE_PAIRS], "long_factor": [1.1, 2.5, 6.0, 14.0][:LONGROPE_PAIRS]})
ORIGINAL_CONTEXT = {"phi3-longrope": 64}
LONG_PROMPT = " ".join(PROMPTS * 3)

# Gemma's tokenizer adds no space before the text (llama.cpp: add_space_prefix false).
NO_SPACE_PREFIX = {"gemma3"}


def training_text():
    """A fixed English text for the tokenizer: varied words, digits and punctuation."""
    words = ("the quick brown fox jumps over lazy dog once upon a time there was small robot who lived "
             "in tiny house near river hello world how are you today numbers like one two three four five "
             "and 1 2 3 4 5 6 7 8 9 0 make sense , . ! ? ; : ( ) quiet morning light came through window").split()
    lines = []
    for i in range(600):
        lines.append(" ".join(words[(i * 7 + j * 13) % len(words)] for j in range(5 + i % 11)))
    return "\n".join(lines) + "\n" + "\n".join(PROMPTS) + "\n"


def train_tokenizer(directory, space_prefix=True):
    text_path = os.path.join(directory, "text.txt")
    with open(text_path, "w") as f:
        f.write(training_text())
    name = "tokenizer" if space_prefix else "tokenizer_no_prefix"
    # Gemma's ids: <pad> 0, <eos> 1, <bos> 2, <unk> 3.
    ids = dict(bos_id=1, eos_id=2, unk_id=0, pad_id=-1) if space_prefix else dict(pad_id=0, eos_id=1, bos_id=2, unk_id=3)
    spm.SentencePieceTrainer.train(
        input=text_path, model_prefix=os.path.join(directory, name), vocab_size=400, model_type="bpe",
        byte_fallback=True, character_coverage=1.0, num_threads=1, add_dummy_prefix=space_prefix, minloglevel=2, **ids)
    return os.path.join(directory, name + ".model")


def llama_cpp_directory(given):
    if given:
        return given
    scratch = tempfile.mkdtemp(prefix="llama-cpp-")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    LLAMA_CPP_PYTHON, "-d", scratch], check=True)
    archive = glob.glob(os.path.join(scratch, "*.tar.gz"))[0]
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers()
                   if "/vendor/llama.cpp/" in m.name and any(part in m.name for part in
                                                           ("convert_hf_to_gguf.py", "/conversion/", "/gguf-py/"))]
        tar.extractall(scratch, members=members)
    return glob.glob(os.path.join(scratch, "*", "vendor", "llama.cpp"))[0]


def greedy(model, ids):
    """32 greedy tokens from `ids`, and the top-2 logit margin at each step."""
    tokens, margins = [], []
    sequence = list(ids)
    for _ in range(GREEDY_TOKENS):
        with torch.no_grad():
            logits = model(torch.tensor([sequence])).logits[0, -1]
        top = torch.topk(logits, 2)
        tokens.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
        sequence.append(tokens[-1])
    return tokens, margins


def make(arch, llama_cpp, tokenizer_model):
    import gguf_json  # needs gguf, from llama.cpp's gguf-py

    with tempfile.TemporaryDirectory() as checkpoint:
        pieces = spm.SentencePieceProcessor(model_file=tokenizer_model)
        config = ARCHITECTURES[arch](pieces.get_piece_size())
        torch.manual_seed(1234)
        config.initializer_range = 0.4  # wide enough that logits differ clearly, so greedy has margins
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        with torch.no_grad():  # biases start at zero and norm weights at one: random ones, so they are exercised
            for module in model.modules():
                if isinstance(module, torch.nn.Linear) and module.bias is not None:
                    module.bias.normal_(0, config.initializer_range)
                elif type(module).__name__.endswith("RMSNorm"):  # Gemma's scale by 1 + weight
                    module.weight.normal_(0 if arch == "gemma3" else 1, 0.2)
        # Shards small enough that every model has several, with their index, as large checkpoints do.
        model.save_pretrained(checkpoint, safe_serialization=True, max_shard_size="300KB")
        # The tokenizer as a Llama checkpoint carries it: the SentencePiece model and its settings
        # (the converter reads both; BOS is added, as Llama's tokenizer does).
        shutil.copyfile(tokenizer_model, os.path.join(checkpoint, "tokenizer.model"))
        with open(os.path.join(checkpoint, "tokenizer_config.json"), "w") as f:
            if arch in NO_SPACE_PREFIX:
                # The special tokens under the SentencePiece model's own names (Gemma's are <bos>, <eos>).
                json.dump({"tokenizer_class": "GemmaTokenizer", "add_bos_token": True, "add_eos_token": False,
                           "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}, f)
            else:
                json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                           "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f)
        write_checkpoint_json(checkpoint, arch, pieces)
        output = os.path.join(checkpoint, f"tiny_{arch}.gguf")
        environment = dict(os.environ, PYTHONPATH=os.path.join(llama_cpp, "gguf-py") + os.pathsep + llama_cpp)
        subprocess.run([sys.executable, os.path.join(llama_cpp, "convert_hf_to_gguf.py"), checkpoint,
                        "--outtype", "f32", "--model-name", f"tiny-{arch}", "--outfile", output], check=True, env=environment,
                       stdout=subprocess.DEVNULL)
        fixture = os.path.join(FIXTURES, f"tiny_{arch}.json")
        gguf_json.write_model_json(output, fixture)

        model = model.double().eval()
        if arch == "gemma3":
            exact_gemma_norms()
        prompts = []
        original = ORIGINAL_CONTEXT.get(arch)
        for text in PROMPTS + ([LONG_PROMPT] if original else []):
            ids = [pieces.bos_id()] + pieces.encode(text)
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[0, -1]
            tokens, margins = greedy(model, ids)
            prompt = {"text": text, "ids": ids, "logits": [float(x) for x in logits], "greedy": tokens, "margins": margins}
            if original:  # the context Ember's cache must have to take the factors transformers took
                # Never both: transformers would switch factors in the middle of the greedy tokens.
                assert len(ids) + GREEDY_TOKENS <= original or len(ids) > original
                prompt["context"] = original if len(ids) <= original else 256
            prompts.append(prompt)
        goldens = {"architecture": arch.split("-")[0], "transformers": transformers.__version__, "torch": torch.__version__,
                   "prompts": prompts}
        with open(os.path.join(FIXTURES, f"tiny_{arch}_goldens.json"), "w") as f:
            json.dump(goldens, f)
        print(f"{arch}: {os.path.getsize(fixture)} bytes of fixture, vocabulary {pieces.get_piece_size()}, "
              f"smallest greedy margin {min(min(p['margins']) for p in prompts):.4f}")


def write_checkpoint_json(checkpoint, arch, pieces):
    """The checkpoint as Ember reads it, with the tokenizer.json transformers converts from the
    SentencePiece model (which must give SentencePiece's ids), as tiny_<arch>_checkpoint.json."""
    with open(os.path.join(checkpoint, "tokenizer_config.json")) as f:
        tokenizer_class = json.load(f)["tokenizer_class"]  # not the model type's: Qwen's would be byte-level BPE
    hf_tokenizer = getattr(transformers, tokenizer_class).from_pretrained(checkpoint)
    for text in PROMPTS + [LONG_PROMPT]:
        assert hf_tokenizer(text).input_ids == [pieces.bos_id()] + pieces.encode(text), (text, hf_tokenizer(text).input_ids, pieces.encode(text), type(hf_tokenizer))
    with tempfile.TemporaryDirectory() as converted:
        hf_tokenizer.save_pretrained(converted)
        sources = {name: os.path.join(checkpoint, name) for name in os.listdir(checkpoint)
                   if name.endswith(".safetensors") or name in ("config.json", "generation_config.json",
                                                                 "model.safetensors.index.json")}
        sources.update({name: os.path.join(converted, name) for name in ("tokenizer.json", "tokenizer_config.json")})
        files = {}
        for name, path in sorted(sources.items()):
            with open(path, "rb") as f:
                data = f.read()
            files[name] = {"base64": base64.b64encode(data).decode("ascii")} if name.endswith(".safetensors") \
                else {"text": data.decode("utf-8")}
    with open(os.path.join(FIXTURES, f"tiny_{arch}_checkpoint.json"), "w") as f:
        json.dump({"files": files}, f)


def exact_gemma_norms():
    """Gemma3RMSNorm computes in float32 whatever the model's type; the reference keeps float64."""
    from transformers.models.gemma3 import modeling_gemma3

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight)
    modeling_gemma3.Gemma3RMSNorm.forward = forward


def main():
    """Arguments: [LLAMA_CPP_DIR] [ARCHITECTURE ...] (default: every architecture)."""
    os.makedirs(FIXTURES, exist_ok=True)
    arguments = sys.argv[1:]
    given = arguments.pop(0) if arguments and arguments[0] not in ARCHITECTURES else None
    llama_cpp = llama_cpp_directory(given)
    sys.path.insert(0, os.path.join(llama_cpp, "gguf-py"))  # for gguf_json
    with tempfile.TemporaryDirectory() as scratch:
        tokenizers = {True: train_tokenizer(scratch), False: train_tokenizer(scratch, space_prefix=False)}
        for arch in arguments or ARCHITECTURES:
            make(arch, llama_cpp, tokenizers[arch not in NO_SPACE_PREFIX])


if __name__ == "__main__":
    main()
