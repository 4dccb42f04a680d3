#!/usr/bin/env bash
# The service under load: makes a Qwen2.5-0.5B-shaped Q4_K_M decoder and a MiniLM-shaped Q8_0 encoder
# with `tinyrag mkmodel` (random weights: the text is meaningless, the compute is real), ingests the
# sample knowledge base (data/kb; generated text when it is missing), starts `tinyrag serve` with a
# 3-passage prompt, runs bench_load at 1, 4 and 16 clients, stops the server and prints bench_load's JSON.
#
#   benchmarks/bench_service.sh [BUILD_DIR]        (default: build)
#
# Environment: WORK_DIR (models and data dir; default a temporary folder, removed at the end unless
# given), CLIENTS (1,4,16), REQUESTS per level (16), MAX_TOKENS per answer (48), TOP_K (3),
# MAX_BATCH (16), THREADS (0: all), STREAM (1: AskStream and time to first token; 0: Ask).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
tinyrag=$build/bin/tinyrag
bench_load=$build/bin/bench_load
for b in "$tinyrag" "$bench_load"; do
  [[ -x $b ]] || { echo "bench_service: $b not found (build it first)" >&2; exit 1; }
done

clients=${CLIENTS:-1,4,16}
requests=${REQUESTS:-16}
max_tokens=${MAX_TOKENS:-48}
top_k=${TOP_K:-3}
max_batch=${MAX_BATCH:-16}
threads=${THREADS:-0}
stream=${STREAM:-1}

if [[ -n ${WORK_DIR:-} ]]; then
  work=$WORK_DIR
  mkdir -p "$work"
  keep_work=1
else
  work=$(mktemp -d -t tinyrag-bench-service.XXXXXX)
  keep_work=0
fi
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $keep_work == 0 ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

decoder=$work/qwen2.5-0.5b-q4_k_m.gguf
encoder=$work/minilm-l6-q8_0.gguf
[[ -f $decoder ]] || "$tinyrag" mkmodel --preset qwen2.5-0.5b --type q4_k_m -o "$decoder" >&2
[[ -f $encoder ]] || "$tinyrag" mkmodel --preset minilm-l6 --type q8_0 -o "$encoder" >&2

# Documents: the sample knowledge base, else generated support-style text.
docs=$repo/data/kb
questions=$work/questions.txt
if [[ -d $docs ]] && [[ -n $(ls -A "$docs") ]]; then
  if [[ -f $repo/data/questions.jsonl ]]; then
    python3 -c 'import json,sys
for line in open(sys.argv[1]):
    line = line.strip()
    if line: print(json.loads(line)["question"].replace("\n", " "))' "$repo/data/questions.jsonl" > "$questions"
  fi
else
  docs=$work/docs
  mkdir -p "$docs"
  for i in $(seq 1 40); do
    {
      echo "# Topic $i"
      echo
      for j in $(seq 1 12); do
        echo "Section $j of topic $i explains how setting $((i * j)) changes the device's behaviour, when to" \
             "adjust it, which error code $((i + j)) means it is wrong, and how support resolves it."
      done
    } > "$docs/topic-$i.md"
  done
fi
data_dir=$work/kb
"$tinyrag" ingest "$docs" --data-dir "$data_dir" --encoder "$encoder" --json >&2

config=$work/serve.yaml
cat > "$config" <<EOF
generation:
  max_batch: $max_batch
  queue_capacity: 256
  default_timeout_ms: 1800000
answer:
  top_k: $top_k
  max_tokens: $max_tokens
metrics:
  listen: ""
log:
  level: warn
  format: text
EOF

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
log=$work/serve.log
serve_args=(--config "$config" --data-dir "$data_dir" --encoder "$encoder" --decoder "$decoder" --listen "$addr")
[[ $threads != 0 ]] && serve_args+=(--threads "$threads")
"$tinyrag" serve "${serve_args[@]}" 2> "$log" &
server_pid=$!
for _ in $(seq 1 600); do
  grep -q "listening on" "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { echo "bench_service: tinyrag serve exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.5
done
grep -q "listening on" "$log" || { echo "bench_service: the server did not start:" >&2; cat "$log" >&2; exit 1; }

load_args=(--server "$addr" --clients "$clients" --requests "$requests" --max-tokens "$max_tokens"
           --top-k "$top_k" --json)
[[ -s $questions ]] && load_args+=(--questions "$questions")
[[ $stream == 1 ]] && load_args+=(--stream)
echo "bench_service: bench_load ${load_args[*]}" >&2
"$bench_load" "${load_args[@]}"
