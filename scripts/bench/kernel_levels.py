#!/usr/bin/env python3
"""The kernel levels head to head: `ember bench` (pp512, tg128) with EMBER_KERNELS=portable (the Swift
kernels), avx2 and avx512 (the C kernels), on the Q4_1 model as shipped and the Q8_0 and F16 files
scripts/bench-vs-llamacpp makes from it. The levels alternate within each round; medians of ROUNDS.
This is the measurement that justifies a C target for the innermost kernels (BENCHMARKS.md).

    python3 scripts/bench/kernel_levels.py [ROUNDS]
Never run it while anything else uses the CPU.
"""
import json, os, statistics, subprocess, sys

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EMBER = os.path.join(ROOT, ".build", "release", "ember")
HOME = os.environ.get("EMBER_HOME", os.path.expanduser("~/.cache/ember"))
SOURCE = subprocess.run([EMBER, "pull", "--quiet", "smollm2"], capture_output=True, text=True, check=True).stdout.strip()
FILES = [("Q4_1", SOURCE),
         ("Q8_0", os.path.join(HOME, "bench", "SmolLM2-135M-Instruct.Q8_0.gguf")),
         ("F16", os.path.join(HOME, "bench", "SmolLM2-135M-Instruct.F16.gguf"))]
LEVELS = ["portable", "avx2", "avx512"]


def rates(path, level):
    out = subprocess.run([EMBER, "bench", "-m", path, "-p", "512", "-n", "128", "-t", "2", "-r", "3", "--json"],
                         env={**os.environ, "EMBER_KERNELS": level}, capture_output=True, text=True, check=True).stdout
    results = {r["test"]: r["tokens_per_second"] for r in json.loads(out)["results"]}
    return results["pp512"], results["tg128"]


def main():
    print(f"rounds={ROUNDS}, 2 threads, medians of pp512 / tg128 tokens/s")
    print("| file | test | portable (Swift) | avx2 (C) | avx512 (C) | avx512 / portable |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, path in FILES:
        if not os.path.exists(path):
            print(f"| {name} | missing: run scripts/bench-vs-llamacpp once to make it | | | | |")
            continue
        samples = {level: [] for level in LEVELS}
        for round in range(ROUNDS):
            for level in LEVELS[round % 3:] + LEVELS[:round % 3]:
                samples[level].append(rates(path, level))
        for index, test in ((0, "pp512"), (1, "tg128")):
            medians = [statistics.median(s[index] for s in samples[level]) for level in LEVELS]
            print(f"| {name} | {test} | {medians[0]:.1f} | {medians[1]:.1f} | {medians[2]:.1f} | {medians[2] / medians[0]:.2f} |")


if __name__ == "__main__":
    main()
