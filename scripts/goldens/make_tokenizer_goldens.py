#!/usr/bin/env python3
"""Reference token ids for EmberTokenizer, made by llama.cpp (llama-cpp-python, vocab-only loads).

Writes into Tests/EmberTokenizerTests/Fixtures/:
  tokenizer_corpus.json             the corpus: a JSON list of strings (ASCII prose, whitespace runs, code,
                                    numbers, CJK, emoji incl. ZWJ and flags, combining marks, contractions,
                                    mixed scripts, special-token text, the empty string, ...)
  tokenizer_goldens_<name>.json     for one vocabulary + pre-tokenizer: llama.cpp's ids for every corpus
                                    string three ways (special: add_special + parse_special,
                                    plain: add_special only, raw: neither) and its end-of-generation ids
  spm_tiny.json                     a small SentencePiece (model `llama`) vocabulary, trained here
  bpe_tiny.json                     a small byte-level BPE (model `gpt2`) vocabulary, trained here
                                    (both are the GGUF metadata as typed JSON: no model files in git;
                                    the Swift tests write them back to a temporary GGUF)

Vocabularies:
  smollm, llama-bpe, qwen2, default, gpt-2
      the SmolLM2 vocabulary; all but `smollm` come from vocab-only GGUF copies with
      `tokenizer.ggml.pre` rewritten (temporary files, never committed; the Swift tests load the real
      model and override the pre-tokenizer name instead)
  tiny-<pre> for each of those names
      a byte-level BPE trained here (fixed corpus, deterministic) without any pre-tokenization, so its
      merges cross digit, space and punctuation boundaries and each pre-tokenizer gives different ids
      (SmolLM2's vocabulary, for instance, has no multi-digit tokens, so llama3 and qwen2 agree on it).
      It has no add_bos_token key, so llama-bpe's implied BOS shows. Committed with pre `llama-bpe`;
      the other names come from temporary copies, and the Swift tests override the name.
  spm
      a BPE SentencePiece model with byte_fallback, trained on text built in this script (fixed seed,
      one thread, so it is deterministic), converted to GGUF the way llama.cpp's converter does
      (tokens, scores, token types, bos/eos/unk, add_bos_token true) and committed as spm_tiny.json

Run (needs `pip install llama-cpp-python gguf sentencepiece`; CI never runs this, it only reads the output):
    python3 scripts/goldens/make_tokenizer_goldens.py [MODEL.gguf]
MODEL defaults to the default model in Ember's cache (the path `ember pull smollm2` prints).
"""
import functools
import json
import os
import subprocess
import random
import sys
import tempfile

import gguf
import llama_cpp
import sentencepiece as spm

from gguf_json import write_metadata_json

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "EmberTokenizerTests", "Fixtures")

BPE_PRE_NAMES = ["smollm", "llama-bpe", "qwen2", "default", "gpt-2"]


def corpus():
    prose = [
        "Hello world",
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog.",
        "It was the best of times, it was the worst of times.",
        "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,",
        "In the beginning God created the heaven and the earth.",
        "To be, or not to be, that is the question:",
        "She sells seashells by the seashore.",
        "A journey of a thousand miles begins with a single step.",
        "The capital of France is Paris; the capital of Japan is Tokyo.",
        "Once upon a time, in a small village by the sea, there lived an old fisherman.",
        "Photosynthesis converts light energy into chemical energy.",
        "What is the boiling point of water at sea level?",
        "Please summarize the following text in three sentences.",
        "UPPERCASE WORDS AND lowercase words AND MiXeD CaSe",
        "e.g. i.e. etc. Mr. Smith vs. Dr. Jones",
        "hello",
        "Hello",
        " Hello",
        "  Hello",
        "   Hello",
        "Hello ",
        "a",
        " a",
        "I",
        "The end.",
    ]
    whitespace = [
        " ", "  ", "   ", "    ", " " * 16, " " * 50,
        "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r", " \n", "\n ", " \n ", "\t\n",
        "a b", "a  b", "a   b", "a\tb", "a\nb", "a\n\nb", "a \n b", "a\r\nb", "word   ", "   word",
        "line one\nline two\n", "\n\nparagraph\n\n", "tabs\tand\tspaces  mixed \t here",
        "\u00a0", "a\u00a0b", "a\u3000b", "\u2003em space", "\u2009thin", "\u000b\u000c", "x\u0085y",
        "\u200b", "zero\u200bwidth", "\ufeffBOM", "a\u2028b\u2029c", " \t \n \r ",
    ]
    code = [
        "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n        return n\n"
        "    return fibonacci(n - 1) + fibonacci(n - 2)\n",
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }",
        "#include <stdio.h>\nint main(void) {\n\tprintf(\"hello\\n\");\n\treturn 0;\n}\n",
        "let x: [Int32] = tokens.map { Int32($0) } // comment",
        "{\"key\": \"value\", \"list\": [1, 2, 3], \"nested\": {\"a\": null, \"b\": true}}",
        "<div class=\"container\"><p>Hello &amp; welcome</p></div>",
        "SELECT name, COUNT(*) FROM users WHERE age >= 18 GROUP BY name;",
        "git commit -m \"fix: handle empty input\" && git push origin main",
        "x += 1; y -= 2; z *= 3; w /= 4; v %= 5; u **= 6",
        "if (a <= b && c >= d || e != f) { return a == b ? c : d; }",
        "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
        "    indented with four spaces\n\tindented with a tab\n",
        "const re = /^[a-z0-9_-]{3,16}$/i;",
        "$HOME/.config/app/settings.toml",
        "C:\\Users\\Admin\\Documents\\file.txt",
        "https://example.com/path?query=1&other=two#fragment",
        "user.name+tag@example.co.uk",
        "| col1 | col2 |\n|------|------|\n| a    | b    |",
        "\\frac{a}{b} + \\sqrt{x^2 + y^2} = \\int_0^1 f(x)\\,dx",
        "print(f\"{value:>10.3f}\")",
        "a->b->c; p::q::r; x => y; m <- n",
        "`inline code` and ```fenced```",
        "# Heading\n\n* bullet one\n* bullet two\n\n> quote",
        "~/tmp$ ls -la | grep '^d' | wc -l",
        "i++ ++i i-- --i !x ~y ^z |w",
        "@decorator\nclass Foo(Bar):\n    pass",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "0xDEADBEEF 0b1010 0o777 1_000_000",
    ]
    numbers = [str(10 ** k) for k in range(0, 16)] + [
        "7", "42", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
        "12345678901234567890", "9" * 40, "3.14159", "-42", "+17", "1,000,000", "1.000.000,50", "1e-10",
        "2024-06-01", "12:34:56", "$100.00", "€50", "100%", "1/2", "3rd 21st 42nd", "v1.2.3",
        "\u0663\u0664\u0665", "\u0967\u0968\u0969", "\u00bd \u00be", "x\u00b2 + y\u00b2 = z\u00b2",
        "\u216b \u2460\u2461\u2462", "\uff11\uff12\uff13", "phone: +1 (555) 123-4567", "a1b2c3", "abc123def456",
        "0.0001", "007",
    ]
    cjk = [
        "你好，世界！", "我爱自然语言处理。", "今天天气很好，我们去公园散步吧。",
        "日本語のテキストです。", "ひらがなとカタカナとKanji", "東京タワーは333メートルです。",
        "안녕하세요, 세계!", "한국어 문장입니다.", "中文English混合text",
        "\u3000全角スペース", "ｈｅｌｌｏ　ｗｏｒｌｄ",
    ]
    emoji = [
        "😀", "😀😃😄", "Hello 👋 world 🌍", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🏳️\u200d🌈",
        "🇫🇷🇯🇵🇺🇸", "❤️", "1️⃣", "🤖 says hi", "🫩", "🧑🏿\u200d💻", "emoji at end 🎉",
        "✨✨✨", "☕️ and 🍰",
    ]
    accents = [
        "café", "cafe\u0301", "naïve", "Ångström", "señor niño", "Tiếng Việt", "Ελληνικά",
        "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034da\u0300lgo",
        "\u0915\u093f", "e\u0301\u0301\u0301", "crème brûlée", "Straße", "İstanbul ılık",
        "\u0897 new mark", "\u1b4e\u1b4f",
    ]
    contractions = [
        "don't", "I'm", "you're", "they've", "we'll", "he'd", "it's", "can't won't shouldn't",
        "DON'T", "I'M", "YOU'RE", "THEY'VE", "WE'LL", "HE'D", "IT'S",
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'Re", "'LL",
        "O'Neil", "rock 'n' roll", "y'all", "don’t", "'quoted'", "''", "'", "it''s", "rock'n'roll",
    ]
    scripts = [
        "Hello мир 世界 مرحبا שלום", "Привет, как дела?", "مرحبا بالعالم", "שלום עולם",
        "สวัสดีครับ", "नमस्ते दुनिया", "Γειά σου Κόσμε", "Բարեւ", "ሰላም", "ᚠᛇᚻ",
        "Türkçe ve Deutsch und français", "ქართული", "தமிழ்", "বাংলা",
    ]
    punctuation = [
        "!!!", "...", "?!?!", "—", "–", "«guillemets»", "“curly quotes”", "¿Qué? ¡Sí!", "+=", "<=>", "^~|",
        "a|b", "#hashtag", "@user", "(parens) [brackets] {braces}", "***bold***", "___", "---", "===",
        "a.b,c;d:e", "!@#$%^&*()_+-=[]{};':\",./<>?", "…", "·•", "§¶†‡", "→ ← ↑ ↓", "∑∫√π ≤ ≥ ≠",
        "©®™", "°C °F", "¥£€$¢", "\ufffd", "\ue000", "\u0001\u007f", "a\u0000b",
    ]
    special = [
        "<|im_start|>user\nhi<|im_end|>",
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
        "<|endoftext|>", "<|im_start|><|im_end|>", "a<|im_end|>b", "<|im_start|", "<|im_start|>",
        "<|im_start|> user", " <|im_end|> ", "<|endoftext|><|endoftext|>", "<reponame>foo/bar<file_sep>",
        "<jupyter_code>x = 1<jupyter_output>1", "<s>hello</s>", "<unk>", "<sep>", "a<sep>b", "x <sep> y",
        "<|im_end|>\n", "text<|endoftext|>", "<<|im_start|>>", "<|im_start|>assistant\n<think>",
    ]
    long = [
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
        "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
        "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum "
        "dolore eu fugiat nulla pariatur.",
        "a" * 300, "ab" * 100, "the " * 60, "🙂" * 20, "1234567890" * 10, "\n" * 20, "-" * 80,
    ]
    strings = ([""] + prose + whitespace + code + numbers + cjk + emoji + accents + contractions + scripts
               + punctuation + special + long)
    seen = set()
    unique = []
    for s in strings:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def spm_training_text():
    rng = random.Random(20240601)
    base = [
        "The quick brown fox jumps over the lazy dog.",
        "Hello world, this is a small tokenizer test corpus.",
        "Language models read text as tokens, not as characters.",
        "Numbers like 42, 1999 and 3.14 appear in many documents.",
        "She said: don't worry, we'll be there at 10:30 tomorrow.",
        "def main():\n    print('hello')\n    return 0\n",
        "Paris is the capital of France and Berlin is the capital of Germany.",
        "Café, naïve, résumé and jalapeño borrow their accents.",
        "The weather today is sunny with a chance of rain in the evening.",
        "Ember runs large language models locally on your own machine.",
        "Привет мир, это проверка.",
        "你好世界，这是一个测试。",
        "Once upon a time there was a little tokenizer that could.",
    ]
    words = " ".join(base).split()
    lines = list(base)
    for _ in range(3000):
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 14))))
    return "\n".join(lines) + "\n"


def train_spm(workdir):
    text_path = os.path.join(workdir, "spm_train.txt")
    with open(text_path, "w", encoding="utf-8") as f:
        f.write(spm_training_text())
    prefix = os.path.join(workdir, "spm_tiny")
    spm.SentencePieceTrainer.train(
        input=text_path, model_prefix=prefix, model_type="bpe", vocab_size=700, byte_fallback=True,
        character_coverage=0.995, normalization_rule_name="identity", user_defined_symbols=["<sep>"],
        num_threads=1, shuffle_input_sentence=False, seed_sentencepiece_size=100000, minloglevel=2,
    )
    return prefix + ".model"


def write_spm_gguf(model_path, out_path):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    tokens, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif tokens[-1] == "<sep>":
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name("spm-tiny")
    # llama.cpp reads hyper-parameters even for a vocab-only load.
    w.add_context_length(256)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()


def write_vocab_copy(model_path, out_path, pre):
    """A vocab-only copy of MODEL (every metadata key, no tensors) with tokenizer.ggml.pre replaced."""
    reader = gguf.GGUFReader(model_path)
    w = gguf.GGUFWriter(out_path, reader.fields["general.architecture"].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        value = pre if name == "tokenizer.ggml.pre" else field.contents()
        main_type = field.types[0]
        sub_type = field.types[-1] if main_type == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(name, value, main_type, sub_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()


def byte_level_alphabet():
    """GPT-2's bytes_to_unicode: the character each byte is written as in byte-level BPE token texts."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@functools.lru_cache(maxsize=None)
def train_byte_level_bpe(text, n_merges):
    """Plain BPE over the bytes of each line (no pre-tokenizer): most frequent pair first, ties by text."""
    alphabet = byte_level_alphabet()
    counts = {}
    for line in text.split("\n"):
        word = tuple(alphabet[b] for b in (line + "\n").encode("utf-8"))
        counts[word] = counts.get(word, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for word, count in counts.items():
            for pair in zip(word, word[1:]):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged = {}
        for word, count in counts.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        counts = merged
    return merges


def bpe_training_text():
    rng = random.Random(7)
    words = ("the of and to in is it that for you was with on as are be this have from or one had by "
             "word but not what all were we when your can said there use an each which she do how their "
             "if will up other about out many then them these so some her would make like him into time "
             "has look two more write go see number no way could people my than first water been call "
             "who oil its now find long down day did get come made may part don't I'm you're they've "
             "we'll he'd it's DON'T caf\u00e9 na\u00efve \u4f60\u597d \u4e16\u754c \u043f\u0440\u0438\u0432\u0435\u0442").split()
    lines = []
    for _ in range(1500):
        parts = []
        for _ in range(rng.randint(3, 12)):
            roll = rng.random()
            if roll < 0.6:
                parts.append(rng.choice(words))
            elif roll < 0.8:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 7))))
            elif roll < 0.9:
                parts.append(rng.choice(["(", ")", ",", ".", "!", "?", ":", ";", "...", "--", "==", "+=", "'", '"']))
            else:
                parts.append(rng.choice(["  ", "\t", "   ", " \n"]))
        lines.append(" ".join(parts))
    return "\n".join(lines)


def write_bpe_gguf(out_path, pre):
    merges = train_byte_level_bpe(bpe_training_text(), 700)
    alphabet = byte_level_alphabet()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = specials + [alphabet[b] for b in range(256)] + [left + right for left, right in merges]
    types = [gguf.TokenType.CONTROL] * len(specials) + [gguf.TokenType.NORMAL] * (len(tokens) - len(specials))
    tokens.append("<sep>")
    types.append(gguf.TokenType.USER_DEFINED)
    w = gguf.GGUFWriter(out_path, "llama")
    w.add_name("bpe-tiny")
    w.add_context_length(256)
    w.add_embedding_length(8)
    w.add_block_count(1)
    w.add_feed_forward_length(16)
    w.add_head_count(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges([f"{left} {right}" for left, right in merges])
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()


def llama_ids(vocab, text, add_special, parse_special):
    data = text.encode("utf-8")
    capacity = len(data) + 8
    buf = (llama_cpp.llama_token * capacity)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, capacity, add_special, parse_special)
    if n < 0:
        raise RuntimeError(f"llama_tokenize failed for {text!r}: {n}")
    return list(buf[:n])


def goldens(gguf_path, name, texts):
    llm = llama_cpp.Llama(model_path=gguf_path, vocab_only=True, verbose=False)
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    cases = []
    for index, text in enumerate(texts):
        cases.append({
            "index": index,
            "text": text,
            "special": llama_ids(vocab, text, True, True),
            "plain": llama_ids(vocab, text, True, False),
            "raw": llama_ids(vocab, text, False, False),
        })
    eog = [i for i in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, i)]
    result = {
        "name": name,
        "generator": f"llama-cpp-python {llama_cpp.__version__}",
        "vocabularySize": n_vocab,
        "bos": llama_cpp.llama_vocab_bos(vocab),
        "eos": llama_cpp.llama_vocab_eos(vocab),
        "addBOS": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "endOfGeneration": eog,
        "cases": cases,
    }
    del llm
    return result


def write_json(path, value):
    """Compact JSON with one list element (string or case) per line, so diffs stay readable."""
    def dump(v):
        return json.dumps(v, ensure_ascii=True, separators=(",", ":"))

    with open(path, "w", encoding="utf-8") as f:
        if isinstance(value, list):
            f.write("[\n" + ",\n".join(dump(v) for v in value) + "\n]\n")
            return
        head = {k: v for k, v in value.items() if k != "cases"}
        f.write(dump(head)[:-1] + ',"cases":[\n')
        f.write(",\n".join(dump(case) for case in value["cases"]) + "\n]}\n")


def main():
    ember = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "release", "ember")
    model = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        [ember, "pull", "--quiet", "smollm2"], capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(FIXTURES, exist_ok=True)
    texts = corpus()
    assert len(texts) >= 200, len(texts)
    write_json(os.path.join(FIXTURES, "tokenizer_corpus.json"), texts)

    with tempfile.TemporaryDirectory() as workdir:
        for pre in BPE_PRE_NAMES:
            path = model
            if pre != "smollm":
                path = os.path.join(workdir, f"smollm2-vocab-{pre}.gguf")
                write_vocab_copy(model, path, pre)
            write_json(os.path.join(FIXTURES, f"tokenizer_goldens_{pre}.json"), goldens(path, pre, texts))

        for pre in BPE_PRE_NAMES:
            path = os.path.join(workdir, f"bpe-tiny-{pre}.gguf")
            write_bpe_gguf(path, pre)
            if pre == "llama-bpe":
                write_metadata_json(path, os.path.join(FIXTURES, "bpe_tiny.json"))
            write_json(os.path.join(FIXTURES, f"tokenizer_goldens_tiny-{pre}.json"), goldens(path, f"tiny-{pre}", texts))

        spm_gguf = os.path.join(workdir, "spm_tiny.gguf")
        write_spm_gguf(train_spm(workdir), spm_gguf)
        write_metadata_json(spm_gguf, os.path.join(FIXTURES, "spm_tiny.json"))
        write_json(os.path.join(FIXTURES, "tokenizer_goldens_spm.json"), goldens(spm_gguf, "spm", texts))
    print(f"wrote {len(texts)} strings x {2 * len(BPE_PRE_NAMES) + 1} vocabularies to {FIXTURES}")


if __name__ == "__main__":
    main()
