#!/usr/bin/env python3
"""tokenizer.json files of each tokenizer family Ember reads, and the ids the `tokenizers` package
gives for the tokenizer corpus (Tests/EmberTokenizerTests/Fixtures/tokenizer_corpus.json), for
HFTokenizerTests. Too large to commit, they are made where the tests run (scripts/hf-tokenizers),
from llama.cpp's vocab-only GGUFs and the default model's GGUF, with the `tokenizers` package as the
published repositories build them: GPT-2's byte-level BPE; SmolLM2's, which splits digits one by one
before GPT-2's regex; Llama 3's Split regex with ignore_merges; Qwen2's Split regex after NFC;
Llama 2's SentencePiece-style BPE (Metaspace, byte fallback, merges ranked by the pieces' scores, as
transformers' converter makes them). Needs `gguf` and `tokenizers` only (no torch).

    python3 hf_tokenizers.py OUTPUT_DIR LLAMACPP_MODELS_DIR SMOLLM2_GGUF
"""
import json
import os
import sys

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "Tests", "EmberTokenizerTests", "Fixtures", "tokenizer_corpus.json")
LLAMA3_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_REGEX = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
UNKNOWN, CONTROL, USER_DEFINED = 2, 3, 4


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def split_then_bytes(regex):
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def byte_level(family, tokens, merges):
    vocab = {token: id for id, token in enumerate(tokens)}
    pairs = [tuple(merge.split(" ", 1)) for merge in merges]
    tokenizer = Tokenizer(models.BPE(vocab, pairs, ignore_merges=family == "llama-bpe"))
    tokenizer.pre_tokenizer = {
        "gpt-2": pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                           pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
        "llama-bpe": split_then_bytes(LLAMA3_REGEX),
        "qwen2": split_then_bytes(QWEN2_REGEX),
    }[family]
    if family == "qwen2":
        tokenizer.normalizer = normalizers.NFC()
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def sentence_piece(tokens, scores):
    """transformers' conversion of a SentencePiece BPE model: every split of a piece into two pieces
    is a merge, ranked by the merged piece's score."""
    vocab = {token: id for id, token in enumerate(tokens)}
    merges = []
    for piece, score in zip(tokens, scores):
        local = [(piece[:i], piece[i:], score) for i in range(1, len(piece)) if piece[:i] in vocab and piece[i:] in vocab]
        merges.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    merges = [(left, right) for left, right, _ in sorted(merges, key=lambda m: m[2], reverse=True)]
    tokenizer = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    return tokenizer


def build(family, path):
    reader = gguf.GGUFReader(path)
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type")
    if field(reader, "tokenizer.ggml.model") == "llama":
        tokenizer = sentence_piece(tokens, field(reader, "tokenizer.ggml.scores"))
    else:
        tokenizer = byte_level(family, tokens, field(reader, "tokenizer.ggml.merges"))
    tokenizer.add_tokens([AddedToken(tokens[i], special=types[i] != USER_DEFINED, normalized=False)
                          for i in range(len(tokens)) if types[i] in (UNKNOWN, CONTROL, USER_DEFINED)])
    return tokenizer


def main():
    output, models_directory, smollm2 = sys.argv[1:4]
    sources = {name: os.path.join(models_directory, f"ggml-vocab-{name}.gguf") for name in ("gpt-2", "llama-bpe", "qwen2", "llama-spm")}
    sources["smollm"] = smollm2
    with open(CORPUS) as f:
        corpus = json.load(f)
    for family, path in sources.items():
        directory = os.path.join(output, family)
        os.makedirs(directory, exist_ok=True)
        tokenizer = build(family, path)
        tokenizer.save(os.path.join(directory, "tokenizer.json"))
        ids = [tokenizer.encode(text, add_special_tokens=False).ids for text in corpus]
        with open(os.path.join(directory, "ids.json"), "w") as f:
            json.dump({"tokenizers": __import__("tokenizers").__version__, "texts": corpus, "ids": ids}, f, ensure_ascii=False)
        print(f"{family}: {len(corpus)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
