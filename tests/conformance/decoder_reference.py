#!/usr/bin/python3
"""Float64 reference forward pass of GGUF decoders, independent of tinyrag's C++.

usage: decoder_reference.py MODEL.gguf IDS_FILE OUT.logits

Reads the GGUF file with its own parser, runs one causal pass over the ids in
IDS_FILE (whitespace-separated, from position 0, nothing prepended) in float64
and writes the logits at every position as little-endian float32
[n_ids][n_vocab]: the `caseK.logits` format of ../shared/fixtures/README.md.
Prints one line per position (its argmax and the margin to the second best).

Written from the architectures' definitions as llama.cpp's GGUF files carry
them (numpy only; F32 and F16 tensors):
  llama  RMSNorm pre-norm blocks; RoPE on adjacent pairs (x[2i], x[2i+1]); the
         optional rope_freqs tensor (Llama 3 RoPE scaling) divides the inverse
         frequency of pair i; grouped-query attention with a causal mask;
         SwiGLU feed-forward; output.weight or, when absent, tied embeddings.
  qwen2  as llama, plus q/k/v biases, NEOX RoPE (pairs (x[i], x[i + n_rot/2])).
  qwen3  as llama with NEOX RoPE, no biases, and an RMSNorm over each head of
         q and k (attn_q_norm / attn_k_norm, eps of the block norms) before
         RoPE; the head size comes from attention.key_length.
Needs /usr/bin/python3 with Debian's python3-numpy.
"""
import struct
import sys

import numpy as np

GGML_F32, GGML_F16 = 0, 1
SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3")
NEOX_ARCHS = ("qwen2", "qwen3")
ABLATIONS = ("rope_freqs", "qk_norm", "qkv_bias", "rope_style")

# GGUF metadata value types -> struct formats of the fixed-size ones.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class GgufError(Exception):
    pass


class _Cursor:
    def __init__(self, data, path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise GgufError(f"{self.path}: truncated at byte {self.pos}")
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return v

    def string(self):
        n = self.take("<Q")
        if self.pos + n > len(self.data):
            raise GgufError(f"{self.path}: truncated string at byte {self.pos}")
        s = bytes(self.data[self.pos:self.pos + n]).decode("utf-8", errors="replace")
        self.pos += n
        return s

    def value(self, vtype):
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type, count = self.take("<I"), self.take("<Q")
            if item_type in _SCALARS:
                fmt = _SCALARS[item_type]
                size = struct.calcsize(fmt) * count
                if self.pos + size > len(self.data):
                    raise GgufError(f"{self.path}: truncated array at byte {self.pos}")
                values = list(struct.unpack_from(f"<{count}{fmt[1]}", self.data, self.pos))
                self.pos += size
                return values
            return [self.value(item_type) for _ in range(count)]
        raise GgufError(f"{self.path}: unknown metadata value type {vtype} at byte {self.pos}")


class Gguf:
    """A GGUF file: `metadata` (key -> value) and tensors as float64 arrays."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        c = _Cursor(self.data, path)
        if c.take("<4s") != b"GGUF":
            raise GgufError(f"{path}: not a GGUF file")
        version = c.take("<I")
        if version not in (2, 3):
            raise GgufError(f"{path}: GGUF version {version} (2 or 3 expected)")
        n_tensors, n_kv = c.take("<Q"), c.take("<Q")
        self.path = path
        self.metadata = {}
        for _ in range(n_kv):
            key = c.string()
            self.metadata[key] = c.value(c.take("<I"))
        infos = []
        for _ in range(n_tensors):
            name = c.string()
            dims = [c.take("<Q") for _ in range(c.take("<I"))]
            infos.append((name, dims, c.take("<I"), c.take("<Q")))
        alignment = self.metadata.get("general.alignment", 32)
        data_start = (c.pos + alignment - 1) // alignment * alignment
        self.tensors = {}  # name -> (GGML dims, type, absolute offset)
        for name, dims, ttype, offset in infos:
            if offset % alignment:
                raise GgufError(f"{path}: tensor {name} at offset {offset} is not {alignment}-aligned")
            self.tensors[name] = (dims, ttype, data_start + offset)

    def has(self, name):
        return name in self.tensors

    def tensor(self, name):
        """float64 array in numpy order: GGML dims [ne0, ne1] -> shape (ne1, ne0)."""
        if name not in self.tensors:
            raise GgufError(f"{self.path}: missing tensor {name}")
        dims, ttype, start = self.tensors[name]
        count = int(np.prod(dims))
        if ttype == GGML_F32:
            dtype = np.dtype("<f4")
        elif ttype == GGML_F16:
            dtype = np.dtype("<f2")
        else:
            raise GgufError(f"{self.path}: tensor {name} has GGML type {ttype}; this reference reads "
                            f"F32 (0) and F16 (1) only")
        end = start + count * dtype.itemsize
        if end > len(self.data):
            raise GgufError(f"{self.path}: tensor {name} runs past the end of the file")
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=start).astype(np.float64)
        return values.reshape(tuple(reversed(dims)))


class Config:
    def __init__(self, g):
        arch = g.metadata.get("general.architecture")
        if arch not in SUPPORTED_ARCHS:
            raise GgufError(f"{g.path}: architecture {arch!r} (supported: {', '.join(SUPPORTED_ARCHS)})")

        def key(name, default=None):
            v = g.metadata.get(f"{arch}.{name}", default)
            if v is None:
                raise GgufError(f"{g.path}: missing metadata key {arch}.{name}")
            return v

        self.arch = arch
        self.n_embd = key("embedding_length")
        self.n_layer = key("block_count")
        self.n_head = key("attention.head_count")
        self.n_head_kv = key("attention.head_count_kv", self.n_head)
        self.head_dim = key("attention.key_length", self.n_embd // self.n_head)
        if key("attention.value_length", self.head_dim) != self.head_dim:
            raise GgufError(f"{g.path}: value_length != key_length is not supported here")
        self.n_rot = key("rope.dimension_count", self.head_dim)
        self.rope_base = key("rope.freq_base", 10000.0)
        scaling = g.metadata.get(f"{arch}.rope.scaling.type", "none")
        if scaling != "none":
            raise GgufError(f"{g.path}: rope scaling type {scaling!r} is not supported here")
        self.eps = key("attention.layer_norm_rms_epsilon")
        if self.n_head % self.n_head_kv:
            raise GgufError(f"{g.path}: {self.n_head} heads do not split into {self.n_head_kv} KV groups")
        self.neox = arch in NEOX_ARCHS
        if not g.has("token_embd.weight"):
            raise GgufError(f"{g.path}: missing tensor token_embd.weight")
        self.n_vocab = g.tensors["token_embd.weight"][0][1]


def _rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def _rope(x, inv_freq, neox, n_rot):
    """x: (positions, heads, head_dim); rotates the first n_rot dims of each head."""
    angles = np.arange(x.shape[0], dtype=np.float64)[:, None] * inv_freq[None, :]  # (pos, n_rot/2)
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    out = x.copy()
    half = n_rot // 2
    if neox:
        a, b = x[..., :half], x[..., half:n_rot]
        out[..., :half], out[..., half:n_rot] = a * cos - b * sin, a * sin + b * cos
    else:
        a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        out[..., 0:n_rot:2], out[..., 1:n_rot:2] = a * cos - b * sin, a * sin + b * cos
    return out


def forward(g, ids, ablate=(), rows=None):
    """Logits (float64, [len(ids)][n_vocab]) of one causal pass over `ids`.

    `rows` (an index or slice of positions) returns only those positions'
    logits: the output projection is most of the cost with a large vocabulary.

    `ablate` names architecture features to leave out ("rope_freqs", "qk_norm",
    "qkv_bias") or to swap ("rope_style": the other RoPE pairing), so a test
    can show that its tolerance tells each feature's presence apart.
    """
    unknown = set(ablate) - set(ABLATIONS)
    if unknown:
        raise ValueError(f"unknown ablation {sorted(unknown)} (known: {', '.join(ABLATIONS)})")
    cfg = Config(g)
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size == 0 or ids.min() < 0 or ids.max() >= cfg.n_vocab:
        raise ValueError(f"ids must be non-empty and within [0, {cfg.n_vocab})")
    n, hd, nh, nkv = len(ids), cfg.head_dim, cfg.n_head, cfg.n_head_kv
    neox = cfg.neox != ("rope_style" in ablate)
    inv_freq = cfg.rope_base ** (-np.arange(0, cfg.n_rot, 2, dtype=np.float64) / cfg.n_rot)
    if g.has("rope_freqs.weight") and "rope_freqs" not in ablate:
        factors = g.tensor("rope_freqs.weight")
        if factors.shape != inv_freq.shape:
            raise GgufError(f"{g.path}: rope_freqs has {factors.size} values, not n_rot / 2 = {inv_freq.size}")
        inv_freq = inv_freq / factors
    causal = np.triu(np.full((n, n), -np.inf), k=1)
    embd = g.tensor("token_embd.weight")
    x = embd[ids]
    for layer in range(cfg.n_layer):
        def w(name):
            return g.tensor(f"blk.{layer}.{name}")

        def has(name):
            return g.has(f"blk.{layer}.{name}")

        h = _rms_norm(x, w("attn_norm.weight"), cfg.eps)
        q, k, v = h @ w("attn_q.weight").T, h @ w("attn_k.weight").T, h @ w("attn_v.weight").T
        if has("attn_q.bias") and "qkv_bias" not in ablate:
            q, k, v = q + w("attn_q.bias"), k + w("attn_k.bias"), v + w("attn_v.bias")
        q, k, v = q.reshape(n, nh, hd), k.reshape(n, nkv, hd), v.reshape(n, nkv, hd)
        if has("attn_q_norm.weight") and "qk_norm" not in ablate:
            q = _rms_norm(q, w("attn_q_norm.weight"), cfg.eps)
            k = _rms_norm(k, w("attn_k_norm.weight"), cfg.eps)
        q, k = _rope(q, inv_freq, neox, cfg.n_rot), _rope(k, inv_freq, neox, cfg.n_rot)
        group = nh // nkv  # query heads per KV head
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + causal
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        attn = np.einsum("hqk,khd->qhd", probs, v).reshape(n, nh * hd)
        x = x + attn @ w("attn_output.weight").T
        h = _rms_norm(x, w("ffn_norm.weight"), cfg.eps)
        gate, up = h @ w("ffn_gate.weight").T, h @ w("ffn_up.weight").T
        x = x + (gate / (1.0 + np.exp(-gate)) * up) @ w("ffn_down.weight").T
    if rows is not None:
        x = x[rows]
    x = _rms_norm(x, g.tensor("output_norm.weight"), cfg.eps)
    out = g.tensor("output.weight") if g.has("output.weight") else embd
    return x @ out.T


def mean_kl(ref, other):
    """Mean over positions (rows) of KL(softmax ref || softmax other), in nats."""
    def log_softmax(x):
        x = x - x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    lp, lq = log_softmax(np.asarray(ref, np.float64)), log_softmax(np.asarray(other, np.float64))
    return float((np.exp(lp) * (lp - lq)).sum(axis=-1).mean())


def write_logits(path, logits):
    np.asarray(logits, dtype="<f4").tofile(path)


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        ids = [int(t) for t in f.read().split()]
    logits = forward(Gguf(argv[1]), ids)
    write_logits(argv[3], logits)
    for pos, row in enumerate(logits):
        top2 = np.sort(row)[-2:]
        print(f"{pos} {int(np.argmax(row))} {top2[1] - top2[0]:.6g}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (GgufError, ValueError, OSError) as e:
        print(f"decoder_reference.py: {e}", file=sys.stderr)
        sys.exit(1)
