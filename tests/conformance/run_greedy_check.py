#!/usr/bin/env python3
"""`tinyrag run ... --temp 0` must print exactly the reference's greedy continuation.

usage: run_greedy_check.py TINYRAG MODEL GREEDY_TXT PROMPT N
GREEDY_TXT holds the prompt followed by the continuation; stdout must equal the
continuation byte for byte. Exits 77 (skip) when the fixtures are absent.
"""
import os
import subprocess
import sys


def main():
    tinyrag, model, greedy, prompt, n = sys.argv[1:6]
    if not (os.path.exists(model) and os.path.exists(greedy)):
        print(f"SKIP: fixtures absent ({model})")
        return 77
    with open(greedy, "rb") as f:
        expected = f.read()
    if not expected.startswith(prompt.encode()):
        print(f"{greedy} does not start with the prompt {prompt!r}")
        return 1
    expected = expected[len(prompt.encode()):]
    run = subprocess.run([tinyrag, "run", "-m", model, "-p", prompt, "-n", n, "--temp", "0"],
                         capture_output=True, timeout=120)
    if run.returncode != 0:
        print(f"tinyrag run failed ({run.returncode}): {run.stderr.decode(errors='replace')}")
        return 1
    if run.stdout != expected:
        common = 0
        while common < min(len(run.stdout), len(expected)) and run.stdout[common] == expected[common]:
            common += 1
        print(f"output differs from byte {common}:\n  expected: {expected[common:common + 80]!r}\n"
              f"  got:      {run.stdout[common:common + 80]!r}")
        return 1
    print(f"PASS {len(expected)} bytes identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
