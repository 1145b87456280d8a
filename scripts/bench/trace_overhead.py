#!/usr/bin/env python3
"""The cost of tracing: `ember run` on the default model, greedy, 128 generated tokens, 2 threads, in
four configurations measured in rotation:
  untraced build   built with EMBER_NO_TRACE=1 (every trace call compiled away)
  off              the normal build, tracing off (one branch per span site)
  layer            EMBER_TRACE_LEVEL=layer (phases + one span per transformer layer)
  op               EMBER_TRACE_LEVEL=op (+ one span per backend operation)
Prints the median generation tokens/s of each, and the median over rounds of its ratio to the
untraced build in the same round (the four runs of a round are seconds apart, so the ratio cancels
most of a shared machine's drift; the spread of the ratios says how much noise is left).

On a shared machine those wall-clock rates move by 10-20% from run to run, more than tracing costs.
So the script also counts, under valgrind (cachegrind, no cache simulation), the instructions each
configuration executes per generated token with one thread, where the work is deterministic: the
difference between a 65-token and a 1-token run, over 64. The kernel's share of writing the trace
(copying ~80 KB per token at op level into the page cache) is not in those counts.

Builds both binaries first (release; the untraced one in .build-notrace), then:
    python3 scripts/bench/trace_overhead.py [ROUNDS]
Needs valgrind for the instruction counts (apt install valgrind). Never run it while anything else
uses the CPU.
"""
import os, re, shutil, statistics, subprocess, sys, tempfile

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 9
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
ARGS = ["run", "-p", "The capital of France is", "-n", "128", "--temp", "0", "-t", "2", "--ignore-eos"]


def build():
    subprocess.run(["swift", "build", "-c", "release", "--product", "ember"], cwd=ROOT, check=True)
    subprocess.run(["swift", "build", "-c", "release", "--product", "ember", "--scratch-path", ".build-notrace"],
                   cwd=ROOT, check=True, env={**os.environ, "EMBER_NO_TRACE": "1"})


def generation_rate(binary, level, trace_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_TRACE")}
    args = [binary] + ARGS
    if level:
        env["EMBER_TRACE_LEVEL"] = level
        args += ["--trace", os.path.join(trace_dir, f"{level}.json")]
    err = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stderr
    return float(re.search(r"generation 128 tokens, ([\d.]+) tok/s", err).group(1))


def instructions(binary, level, tokens, trace_dir):
    """Instructions the whole process executes (valgrind's "I refs"), one thread, `tokens` tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_TRACE")}
    if level:
        # A fragment directory, not --trace FILE: merging at exit is not part of generating.
        env.update(EMBER_TRACE=os.path.join(trace_dir, f"{level}-{tokens}"), EMBER_TRACE_LEVEL=level)
    args = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", binary,
            "run", "-p", "The capital of France is", "-n", str(tokens), "--temp", "0", "-t", "1", "--ignore-eos"]
    err = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stderr
    return int(re.search(r"I\s+refs:\s+([\d,]+)", err).group(1).replace(",", ""))


def main():
    build()
    configs = [("untraced build", os.path.join(ROOT, ".build-notrace", "release", "ember"), None),
               ("off", os.path.join(ROOT, ".build", "release", "ember"), None),
               ("layer", os.path.join(ROOT, ".build", "release", "ember"), "layer"),
               ("op", os.path.join(ROOT, ".build", "release", "ember"), "op")]
    rates = {name: [] for name, _, _ in configs}
    with tempfile.TemporaryDirectory() as trace_dir:
        for round in range(ROUNDS):
            for name, binary, level in configs[round % 4:] + configs[:round % 4]:
                rates[name].append(generation_rate(binary, level, trace_dir))
    base = rates["untraced build"]
    print(f"rounds={ROUNDS}, ember run, 128 tokens greedy, 2 threads; generation tok/s")
    print("| configuration | median tok/s | min | max | ratio to untraced, median of rounds | ratio quartiles |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, _, _ in configs:
        values = rates[name]
        ratios = sorted(value / untraced for value, untraced in zip(values, base))
        quartiles = statistics.quantiles(ratios, n=4)
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} "
              f"| {statistics.median(ratios):.3f} | {quartiles[0]:.3f} - {quartiles[2]:.3f} |")

    if shutil.which("valgrind") is None:
        print("\nvalgrind not found: no instruction counts")
        return
    print("\ninstructions per generated token (valgrind, 1 thread, (65-token run - 1-token run) / 64)")
    print("| configuration | instructions per token | vs untraced build |\n| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as trace_dir:
        per_token = {name: (instructions(binary, level, 65, trace_dir) - instructions(binary, level, 1, trace_dir)) / 64
                     for name, binary, level in configs}
    for name, _, _ in configs:
        print(f"| {name} | {per_token[name] / 1e6:.3f} M | {per_token[name] / per_token['untraced build']:.4f} |")


if __name__ == "__main__":
    main()
