#!/bin/sh
# Encoder speed: `tinyrag bench --embed` on all-MiniLM-L6-v2-shaped random
# models (tinyrag mkmodel --preset minilm-l6) in F16, F32 and Q8_0, for
# 128- and 32-token inputs and batches of 32 and 1; then, when a llama.cpp
# bin directory is given, llama-embedding on the same files and inputs of the
# same token counts, for comparison. Builds and downloads nothing.
#
# usage: benchmarks/bench_embed.sh TINYRAG_BIN [LLAMA_CPP_BIN_DIR] [THREADS]
#   e.g. benchmarks/bench_embed.sh build/bin/tinyrag /tmp/llama.cpp/build/bin 2
set -eu
TINYRAG=${1:?usage: bench_embed.sh TINYRAG_BIN [LLAMA_CPP_BIN_DIR] [THREADS]}
LLAMA_BIN=${2:-}
THREADS=${3:-2}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for type in f16 f32 q8_0; do
  "$TINYRAG" mkmodel --preset minilm-l6 --type "$type" -o "$WORK/minilm-$type.gguf" 2>/dev/null
done

echo "# tinyrag (threads=$THREADS)"
for type in f16 f32 q8_0; do
  for pb in "128 32" "32 32" "128 1"; do
    set -- $pb
    "$TINYRAG" bench -m "$WORK/minilm-$type.gguf" --embed -p "$1" -b "$2" -t "$THREADS" -r 3 --json
  done
done

[ -n "$LLAMA_BIN" ] || exit 0
# Inputs of exactly P tokens ([CLS] + P-2 whole-word tokens + [SEP]): words
# drawn from the model's own (synthetic) vocabulary, one input per line.
python3 - "$WORK/minilm-f16.gguf" "$WORK" <<'PY'
import random, struct, sys
data = open(sys.argv[1], 'rb').read(8 << 20)
key = b'tokenizer.ggml.tokens'
i = data.index(key) + len(key) + 4          # skip the value type (array)
_, n = struct.unpack_from('<IQ', data, i)    # element type, count
i += 12
words = []
for _ in range(n):
    (l,) = struct.unpack_from('<Q', data, i)
    t = data[i + 8:i + 8 + l].decode('utf-8', 'replace')
    i += 8 + l
    if t.startswith('\u2581') and t[1:].isascii() and t[1:].isalpha() and t[1:].islower():
        words.append(t[1:])
random.seed(1)
for p in (128, 32):
    with open(f'{sys.argv[2]}/p{p}.txt', 'w') as out:
        for _ in range(32):
            out.write(' '.join(random.choice(words) for _ in range(p - 2)) + '\n')
PY
# One input per llama.cpp batch: its fastest setting here (a batch of many
# inputs attends over all of the batch's tokens at once).
echo "# llama.cpp llama-embedding (threads=$THREADS), 32 inputs per run"
for type in f16 f32 q8_0; do
  for p in 128 32; do
    "$LLAMA_BIN/llama-embedding" -m "$WORK/minilm-$type.gguf" -f "$WORK/p$p.txt" -t "$THREADS" \
      -b "$p" -ub "$p" -c "$p" -np 1 --embd-output-format json >/dev/null 2>"$WORK/llama.log" || true
    echo "$type p=$p: $(grep 'prompt eval time' "$WORK/llama.log" | sed 's/.*= *//')"
  done
done
