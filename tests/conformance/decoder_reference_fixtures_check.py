#!/usr/bin/python3
"""The float64 reference (decoder_reference.py) itself against llama.cpp's logits.

usage: decoder_reference_fixtures_check.py FIXTURES_DIR MODEL.gguf...

For each named F32 model of a fixtures folder (../shared/fixtures/README.md),
runs decoder_reference.py's forward over every logits case and compares it
with the logits llama.cpp computed: mean KL over all positions <= MAX_MEAN_KL
and the same argmax at every position. This shows the reference, which is the
only oracle for qwen3 and Llama 3's rope_freqs, reads files and computes
llama and qwen2 exactly as llama.cpp does.

Exits 77 (ctest SKIP) when the folder or numpy is missing.
"""
import json
import os
import sys

SKIP = 77
# llama.cpp keeps an f16 KV cache (~1e-7..5e-7 on F32 files) and rounds
# activations to f16 before F16 matrix products (~1e-6..2e-6 on F16 files).
MAX_MEAN_KL = 5e-6


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    folder, models = argv[1], argv[2:]
    if not os.path.isfile(os.path.join(folder, "MANIFEST.json")):
        print(f"SKIP: fixtures not found at {folder} (../shared/fixtures beside the checkout)")
        return SKIP
    try:
        import numpy as np
    except ImportError:
        print(f"SKIP: numpy not importable by {sys.executable} (Debian's python3-numpy)")
        return SKIP
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import decoder_reference as ref

    with open(os.path.join(folder, "MANIFEST.json")) as f:
        manifest = json.load(f)
    failures = 0
    for model in models:
        entry = manifest.get(model)
        if entry is None or not entry.get("logits"):
            print(f"FAIL {model}: no logits cases in {folder}/MANIFEST.json")
            failures += 1
            continue
        g = ref.Gguf(os.path.join(folder, model))
        kl_sum, positions, agree = 0.0, 0, 0
        for case in entry["logits"]:
            with open(os.path.join(folder, case["ids"])) as f:
                ids = [int(t) for t in f.read().split()]
            theirs = np.fromfile(os.path.join(folder, case["logits"]), dtype="<f4").reshape(case["shape"])
            ours = ref.forward(g, ids)
            kl_sum += ref.mean_kl(theirs, ours) * len(ids)
            positions += len(ids)
            agree += int((theirs.argmax(axis=-1) == ours.argmax(axis=-1)).sum())
        kl = kl_sum / positions
        ok = kl <= MAX_MEAN_KL and agree == positions
        print(f"{'PASS' if ok else 'FAIL'} {model}: positions={positions} mean_kl={kl:.3g} "
              f"top1={agree}/{positions} (need mean_kl <= {MAX_MEAN_KL:g}, every argmax equal)")
        failures += 0 if ok else 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
