#!/bin/sh
# Decoder speed: `tinyrag bench` (prefill of a P-token prompt, decode of N
# tokens) on random-weight models with real shapes (tinyrag mkmodel), then,
# when a llama.cpp bin directory is given, llama-bench on the same files with
# the same arguments, so the ratios come from one run. Builds and downloads
# nothing.
#
# usage: benchmarks/bench_decode.sh TINYRAG_BIN [LLAMA_CPP_BIN_DIR] [THREADS] [PRESET] [TYPES]
#   e.g. benchmarks/bench_decode.sh build/bin/tinyrag /tmp/llama.cpp/build/bin 2 qwen2.5-0.5b "q4_k_m q8_0 q4_0"
set -eu
TINYRAG=${1:?usage: bench_decode.sh TINYRAG_BIN [LLAMA_CPP_BIN_DIR] [THREADS] [PRESET] [TYPES]}
LLAMA_BIN=${2:-}
THREADS=${3:-2}
PRESET=${4:-qwen2.5-0.5b}
TYPES=${5:-q4_k_m q8_0 q4_0}
P=512
N=128
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for type in $TYPES; do
  model="$WORK/$PRESET-$type.gguf"
  "$TINYRAG" mkmodel --preset "$PRESET" --type "$type" -o "$model" 2>/dev/null
  echo "# $PRESET $type, threads=$THREADS, p=$P, n=$N"
  echo "tinyrag: $("$TINYRAG" bench -m "$model" -p $P -n $N -t "$THREADS" -r 3 --json 2>/dev/null)"
  if [ -n "$LLAMA_BIN" ]; then
    "$LLAMA_BIN/llama-bench" -m "$model" -p $P -n $N -t "$THREADS" -r 3 -o csv 2>/dev/null |
      awk -F, 'NR > 1 {gsub(/"/, ""); print "llama.cpp: n_prompt=" $(NF-6) " n_gen=" $(NF-5) " tokens/s=" $(NF-1)}' || true
  fi
  rm -f "$model"
done
