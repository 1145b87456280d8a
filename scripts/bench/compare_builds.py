#!/usr/bin/env python3
"""Two ember builds head to head: the same `ember run` (default model, 17-token prompt, greedy, 128
generated tokens, 2 threads), alternating A and B for ROUNDS rounds. Prints each build's median prompt
and generation tokens/s and the median over rounds of B/A (with quartiles: how much noise is left).

Build the other binary from another commit, e.g.
    git worktree add /tmp/base <commit> && (cd /tmp/base && swift build -c release --product ember)
    python3 scripts/bench/compare_builds.py /tmp/base/.build/release/ember .build/release/ember [ROUNDS]
Never run it while anything else uses the CPU.
"""
import re, statistics, subprocess, sys

ARGS = ["run", "-p", "1, 2, 3, 4, 5, 6,", "-n", "128", "--temp", "0", "-t", "2"]


def rates(binary):
    err = subprocess.run([binary] + ARGS, capture_output=True, text=True, check=True).stderr
    prompt, generation = re.search(r"prompt \d+ tokens, ([\d.]+) tok/s \| generation 128 tokens, ([\d.]+) tok/s", err).groups()
    return float(prompt), float(generation)


def main():
    a, b = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    runs = {a: [], b: []}
    for round in range(rounds):
        for binary in ([a, b] if round % 2 == 0 else [b, a]):
            runs[binary].append(rates(binary))
    print(f"rounds={rounds}: {' '.join(ARGS)}")
    for name, binary in (("A", a), ("B", b)):
        print(f"{name} {binary}: prompt {statistics.median(r[0] for r in runs[binary]):.1f} tok/s, "
              f"generation {statistics.median(r[1] for r in runs[binary]):.1f} tok/s")
    for index, what in ((0, "prompt"), (1, "generation")):
        ratios = sorted(y[index] / x[index] for x, y in zip(runs[a], runs[b]))
        low, median, high = statistics.quantiles(ratios, n=4)
        print(f"B/A {what}: median {median:.3f}, quartiles {low:.3f} - {high:.3f}")


if __name__ == "__main__":
    main()
