#!/usr/bin/python3
"""Our decoder's logits against the independent float64 forward of decoder_reference.py.

usage: decoder_reference_check.py TINYRAG MODEL_WRITER PRESET FEATURE...

MODEL_WRITER (decoder_reference_model) writes PRESET shrunk to a small F32
model. This script computes the float64 reference logits of two token
sequences with decoder_reference.py, writes them as a fixtures folder
(MANIFEST.json, caseK.ids, caseK.logits: ../shared/fixtures/README.md) and
runs `TINYRAG check-fixtures DIR --only logits` on it. It passes when that
reports mean KL <= MAX_MEAN_KL and top-1 agreement 1.0: far tighter than the
README's F32 bound, as both sides compute in float (ours keeps an f16 KV
cache, which costs ~5e-7).

Each FEATURE must be present in the file, and leaving it out of the reference
must move the reference's logits by at least SENSITIVITY x MAX_MEAN_KL, so the
bound does tell it apart: rope_freqs (Llama 3 RoPE scaling; its values are
also checked against Llama 3.2's rope_scaling), qk_norm (qwen3), qkv_bias
(qwen2), untied_output. The RoPE pairing (NEOX or adjacent) is always checked
that way.

Exits 77 (ctest SKIP) when numpy is missing.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77
MAX_MEAN_KL = 5e-6
SENSITIVITY = 20
# Two cases: 96 ids (past the checker's 64-token prefill chunk) and 17.
CASE_LENGTHS = (96, 17)
SEED = 20261122
# Positions compared when leaving a feature out (every third, to save time).
ABLATION_ROWS = slice(2, None, 3)

# Llama 3.2 1B's config.json rope_scaling.
LLAMA32_ROPE_SCALING = {"factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192}


def fail(msg):
    print(f"FAIL: {msg}")
    return 1


def llama3_rope_factors(base, n_rot, s, np):
    """Llama 3's per-frequency divisors, from the published rope_scaling rule."""
    low_wavelen = s["original_max_position_embeddings"] / s["low_freq_factor"]
    high_wavelen = s["original_max_position_embeddings"] / s["high_freq_factor"]
    out = []
    for i in range(0, n_rot, 2):
        wavelen = 2 * math.pi * base ** (i / n_rot)
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(s["factor"])
        else:
            smooth = (s["original_max_position_embeddings"] / wavelen - s["low_freq_factor"]) / (
                s["high_freq_factor"] - s["low_freq_factor"])
            out.append(1.0 / ((1 - smooth) / s["factor"] + smooth))
    return np.array(out)


def check_features(ref_module, g, ids, ref_logits, features, np):
    """None when every feature is present and visible at the bound, else the failure."""
    cfg = ref_module.Config(g)
    present = {
        "rope_freqs": g.has("rope_freqs.weight"),
        "qk_norm": g.has("blk.0.attn_q_norm.weight"),
        "qkv_bias": g.has("blk.0.attn_q.bias"),
        "untied_output": g.has("output.weight"),
    }
    for f in features:
        if f not in present:
            return f"unknown feature {f} (known: {', '.join(present)})"
        if not present[f]:
            return f"{g.path} lacks {f}"
    if "rope_freqs" in features:
        if any(k.endswith(".rope.scaling.type") for k in g.metadata):
            return "rope scaling metadata present (Llama 3 files carry only the rope_freqs tensor)"
        want = llama3_rope_factors(cfg.rope_base, cfg.n_rot, LLAMA32_ROPE_SCALING, np)
        factor = LLAMA32_ROPE_SCALING["factor"]
        if not (want.min() == 1 and want.max() == factor and ((want > 1) & (want < factor)).any()):
            return f"n_rot {cfg.n_rot} does not reach all three bands of Llama 3's scaling: {want.tolist()}"
        got = g.tensor("rope_freqs.weight")
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-5):
            return f"rope_freqs {got.tolist()} differ from Llama 3's rope_scaling factors {want.tolist()}"
    for ablation in ["rope_style"] + [f for f in features if f != "untied_output"]:
        kl = ref_module.mean_kl(ref_logits[ABLATION_ROWS],
                                ref_module.forward(g, ids, ablate=(ablation,), rows=ABLATION_ROWS))
        print(f"reference without {ablation}: mean_kl={kl:.3g}")
        if kl < SENSITIVITY * MAX_MEAN_KL:
            return f"leaving {ablation} out moves the reference by only {kl:.3g}: the bound cannot see it"
    return None


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    tinyrag, writer, preset, features = argv[1], argv[2], argv[3], argv[4:]
    try:
        import numpy as np
    except ImportError:
        print(f"SKIP: numpy not importable by {sys.executable} (Debian's python3-numpy)")
        return SKIP
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import decoder_reference as ref

    with tempfile.TemporaryDirectory(prefix="tinyrag_decoder_reference_") as tmp:
        model_file = f"{preset}.gguf"
        subprocess.run([writer, preset, os.path.join(tmp, model_file)], check=True)
        g = ref.Gguf(os.path.join(tmp, model_file))
        cfg = ref.Config(g)
        rng = np.random.default_rng(SEED)
        cases, all_logits = [], []
        for k, n in enumerate(CASE_LENGTHS):
            ids = rng.integers(0, cfg.n_vocab, n)
            ids[-1] = cfg.n_vocab - 1  # the last row of the embedding and output matrices
            logits = ref.forward(g, ids)
            with open(os.path.join(tmp, f"case{k}.ids"), "w") as f:
                f.write(" ".join(str(int(i)) for i in ids) + "\n")
            ref.write_logits(os.path.join(tmp, f"case{k}.logits"), logits)
            cases.append({"ids": f"case{k}.ids", "logits": f"case{k}.logits", "dtype": "float32",
                          "shape": [n, int(cfg.n_vocab)]})
            all_logits.append((ids, logits))
        problem = check_features(ref, g, *all_logits[0], features, np)
        if problem:
            return fail(problem)
        manifest = {model_file: {"arch": cfg.arch, "n_vocab": int(cfg.n_vocab), "n_embd": int(cfg.n_embd),
                                 "tensor_types": ["F32"], "logits": cases}}
        with open(os.path.join(tmp, "MANIFEST.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        run = subprocess.run([tinyrag, "check-fixtures", tmp, "--only", "logits"], capture_output=True, text=True)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        m = re.search(r"^(PASS|FAIL) \S+ logits cases=(\d+) mean_kl=(\S+) top1=(\S+)$", run.stdout, re.M)
        if m is None:
            return fail(f"no logits result line from check-fixtures (exit {run.returncode})")
        n_cases, kl, top1 = int(m.group(2)), float(m.group(3)), float(m.group(4))
        if n_cases != len(CASE_LENGTHS) or kl > MAX_MEAN_KL or top1 < 1.0:
            return fail(f"{preset}: {n_cases} cases, mean_kl={kl:.3g} (need <= {MAX_MEAN_KL:g}), "
                        f"top1={top1} (need 1.0)")
        print(f"OK {preset} ({cfg.arch}): mean_kl={kl:.3g} top1={top1} against the float64 reference")
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
