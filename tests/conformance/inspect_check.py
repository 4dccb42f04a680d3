#!/usr/bin/env python3
"""Conformance check of `tinyrag inspect` against an independent GGUF parse.

usage:
  inspect_check.py TINYRAG FILE.gguf   check inspect's output for one fixture file
  inspect_check.py TINYRAG --errors    check that missing and corrupt files fail cleanly

For a fixture file, this script reads the GGUF header, metadata keys and tensor
infos itself (a separate, minimal parser), then checks that `tinyrag inspect`
exits 0 and reports the same architecture, tensor count and tensor table (name,
type, shape), and the architecture listed in the folder's MANIFEST.json when it
names one. Exits 77 (ctest SKIP) when the fixture file is absent.
"""
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

SKIP = 77

# GGML tensor type ids -> names (the on-disk numbering).
TYPE_NAMES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
    30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B",
          10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s

    def value(self, vtype):
        if vtype in SCALAR:
            return self.take(SCALAR[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype, n = self.take("<I"), self.take("<Q")
            return [self.value(etype) for _ in range(n)]
        raise ValueError(f"unknown value type {vtype}")


def parse_gguf(path):
    with open(path, "rb") as f:
        r = Reader(f.read())
    if r.data[:4] != b"GGUF":
        raise ValueError("bad magic")
    r.pos = 4
    version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string().decode()
        meta[key] = r.value(r.take("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = r.string().decode()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        ttype, _offset = r.take("<I"), r.take("<Q")
        tensors.append((name, TYPE_NAMES[ttype], dims))
    return version, meta, tensors


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def run(tinyrag, *args):
    return subprocess.run([tinyrag, *args], capture_output=True, text=True, errors="replace")


def check_file(tinyrag, path):
    if not os.path.exists(path):
        print(f"SKIP: {path} is absent (../shared/fixtures not present)")
        sys.exit(SKIP)
    version, meta, tensors = parse_gguf(path)
    arch = meta.get("general.architecture", b"").decode()

    manifest_path = os.path.join(os.path.dirname(path), "MANIFEST.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            entry = json.load(f).get(os.path.basename(path), {})
        if "arch" in entry and entry["arch"] != arch:
            fail(f"the file says architecture {arch!r}, MANIFEST.json says {entry['arch']!r}")
        if "tensor_types" in entry and set(entry["tensor_types"]) != {t for _, t, _ in tensors}:
            fail(f"tensor types {sorted({t for _, t, _ in tensors})} differ from MANIFEST.json")

    res = run(tinyrag, "inspect", path)
    if res.returncode != 0:
        fail(f"inspect exited {res.returncode}: {res.stderr.strip()}")
    out = res.stdout

    def field(name):
        m = re.search(rf"^{re.escape(name)}:\s+(.*)$", out, re.M)
        if not m:
            fail(f"no '{name}:' line in the output")
        return m.group(1).strip()

    if field("version") != f"GGUF v{version}":
        fail(f"version line {field('version')!r}, expected GGUF v{version}")
    shown_arch = field("architecture")
    if shown_arch != (arch or "(none)"):
        fail(f"architecture line {shown_arch!r}, expected {arch!r}")
    if field("tensors") != str(len(tensors)):
        fail(f"tensor count {field('tensors')!r}, expected {len(tensors)}")
    params = sum(math.prod(d) for _, _, d in tensors)
    if field("parameters").replace(",", "") != str(params):
        fail(f"parameters {field('parameters')!r}, expected {params}")
    if arch and any(k.startswith(arch + ".") for k in meta) and f"  {arch}." not in out:
        fail(f"no {arch}.* hyperparameters listed")
    vocab = meta.get("tokenizer.ggml.tokens")
    if vocab is not None and not re.search(rf"^  vocabulary:\s+{len(vocab)}$", out, re.M):
        fail(f"vocabulary size {len(vocab)} not shown")

    # The tensor table: one row per tensor, in file order, after the header row.
    table = out.split(f"\ntensors ({len(tensors)}):\n", 1)
    if len(table) != 2:
        fail("no tensor table")
    rows = [line.split() for line in table[1].splitlines()]
    if tensors:
        rows = rows[1:]  # header row
        got = [(r[0], r[1], " ".join(r[2:-1])) for r in rows]
        want = [(n, t, "[" + ", ".join(map(str, d)) + "]") for n, t, d in tensors]
        if got != want:
            for g, w in zip(got, want):
                if g != w:
                    fail(f"tensor row {g} differs from the file's {w}")
            fail(f"{len(got)} tensor rows, expected {len(want)}")
    print(f"PASS {os.path.basename(path)}: arch={arch or '(none)'} tensors={len(tensors)} "
          f"keys={len(meta)} params={params}")


def check_errors(tinyrag):
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "missing.gguf")
        res = run(tinyrag, "inspect", missing)
        if res.returncode != 1 or res.stdout or missing not in res.stderr:
            fail(f"missing file: exit {res.returncode}, stdout {res.stdout!r}, stderr {res.stderr!r}")
        corrupt = os.path.join(tmp, "corrupt.gguf")
        # A header promising one tensor, then nothing.
        with open(corrupt, "wb") as f:
            f.write(b"GGUF" + struct.pack("<IQQ", 3, 1, 0))
        res = run(tinyrag, "inspect", corrupt)
        if res.returncode != 1 or res.stdout or "corrupt.gguf: tensor count 1 is impossible" not in res.stderr:
            fail(f"corrupt file: exit {res.returncode}, stdout {res.stdout!r}, stderr {res.stderr!r}")
        notgguf = os.path.join(tmp, "notes.txt")
        with open(notgguf, "w") as f:
            f.write("hello, world\n")
        res = run(tinyrag, "inspect", notgguf)
        if res.returncode != 1 or res.stdout or "not a GGUF file" not in res.stderr:
            fail(f"text file: exit {res.returncode}, stdout {res.stdout!r}, stderr {res.stderr!r}")
    print("PASS inspect errors: missing, corrupt and non-GGUF files exit 1 with the error on stderr")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    tinyrag, what = sys.argv[1], sys.argv[2]
    if what == "--errors":
        check_errors(tinyrag)
    else:
        check_file(tinyrag, what)


if __name__ == "__main__":
    main()
