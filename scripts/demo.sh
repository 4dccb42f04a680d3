#!/usr/bin/env bash
# `make demo`: tinyrag doing its job end to end on this machine. Ingests the sample support-desk
# knowledge base (data/kb), starts the gRPC server on a free loopback port, asks it questions with
# `tinyrag ask` (answerable ones and one the knowledge base cannot answer), lists what was escalated
# to the support desk, and stops the server.
#
# Models: the real ones when scripts/download-models.sh has put them in models/; otherwise small
# random-weight models written by `tinyrag mkmodel` (their generated text would be meaningless, so
# the server answers extractively: the best-supported sentences of the passages it finds).
#
# usage: scripts/demo.sh [BUILD_DIR]   (default: build; `make demo` builds it first)
# Environment: DEMO_DIR keeps the demo's files there (default: a temporary folder, removed at the end).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$root/$build
tinyrag=$build/bin/tinyrag
for bin in "$tinyrag" "$build/bin/tinyrag-service"; do
  [[ -x $bin ]] || { echo "demo: $bin is missing; run \`make build\` (or \`make demo\`) first" >&2; exit 1; }
done

if [[ -n ${DEMO_DIR:-} ]]; then
  work=$DEMO_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/tinyrag-demo.XXXXXX")
fi
server_pid=
cleanup() {
  local status=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if ((status != 0)); then
    if [[ -s $work/serve.log ]]; then
      echo "demo: the server's last log lines:" >&2
      tail -n 20 "$work/serve.log" >&2
    fi
    echo "demo: failed (exit $status)" >&2
  fi
  [[ -n ${DEMO_DIR:-} ]] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

# --- Models -----------------------------------------------------------------------------------
step "Models"
real_encoder=$root/models/all-MiniLM-L6-v2
real_decoder=$root/models/qwen2.5-0.5b-instruct-q4_k_m.gguf
if [[ -f $real_encoder/model.safetensors && -f $real_decoder ]]; then
  encoder=$real_encoder
  decoder=$real_decoder
  mode=generative
  echo "real models from models/: all-MiniLM-L6-v2 (encoder), Qwen2.5-0.5B-Instruct Q4_K_M (decoder)"
else
  encoder=$work/minilm-l6-q8_0.gguf
  decoder=$work/smollm2-135m-q8_0.gguf
  mode=extractive
  [[ -f $encoder ]] || "$tinyrag" mkmodel --preset minilm-l6 --type q8_0 -o "$encoder" >/dev/null
  [[ -f $decoder ]] || "$tinyrag" mkmodel --preset smollm2-135m --type q8_0 -o "$decoder" >/dev/null
  cat <<EOF
No real models in models/ (scripts/download-models.sh fetches them), so this demo uses small
random-weight models written by \`tinyrag mkmodel\` (MiniLM-L6 and SmolLM2-135M shapes). Their
generated text would be meaningless, so answers are extractive (the best-supported sentences of the
passages found). The random encoder's similarities mean nothing either: retrieval uses only its
lexical (BM25) half, and the confidence leaves out the two encoder-based signals.
EOF
  # The built-in confidence priors without the encoder's signals (best_dense, semantic_support).
  /usr/bin/python3 - "$root/data/confidence_defaults.json" "$work/confidence.json" <<'PY'
import json, sys
model = json.load(open(sys.argv[1]))
for weights in (model["weights"], model["extractive"]["weights"]):
    weights["best_dense"] = weights["semantic_support"] = 0.0
model["note"] = "make demo: data/confidence_defaults.json without the random encoder's signals"
json.dump(model, open(sys.argv[2], "w"), indent=2)
PY
fi

# --- Knowledge base -----------------------------------------------------------------------------
step "Ingesting data/kb (a fictional thermostat's FAQ, troubleshooting guides and policies)"
"$tinyrag" ingest "$root/data/kb" --data-dir "$work/data" --encoder "$encoder" --json >"$work/ingest.json"
/usr/bin/python3 - "$work/ingest.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"{s['files']} files: {s['documents_added']} documents added, {s['documents_unchanged']} unchanged, "
      f"{s['documents_failed']} failed, {s['chunks_added']} chunks, {s['seconds']:.1f} s")
EOF

# --- Server -------------------------------------------------------------------------------------
step "Starting the server"
cat >"$work/serve.yaml" <<EOF
listen: 127.0.0.1:0
data_dir: $work/data
encoder: $encoder
decoder: $decoder
answer_mode: $mode
log:
  format: text
EOF
if [[ $mode == extractive ]]; then
  cat >>"$work/serve.yaml" <<EOF
answer:
  confidence_file: $work/confidence.json
retrieval:
  dense_weight: 0.0
EOF
fi
"$build/bin/tinyrag" serve --config "$work/serve.yaml" 2>"$work/serve.log" &
server_pid=$!
address=
for _ in $(seq 600); do  # up to 60 s for the models to load
  address=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/serve.log" | head -n 1)
  [[ -n $address ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "demo: the server exited" >&2; exit 1; }
  sleep 0.1
done
[[ -n $address ]] || { cat "$work/serve.log" >&2; echo "demo: the server did not start in 60 s" >&2; exit 1; }
echo "listening on $address ($mode answers)"

# --- Questions ----------------------------------------------------------------------------------
ask() {
  step "Q: $1"
  "$tinyrag" ask --server "$address" --json "$1" >"$work/answer.json"
  /usr/bin/python3 - "$work/answer.json" <<'EOF'
import json, sys, textwrap
r = json.load(open(sys.argv[1]))
print(textwrap.fill("A: " + r["answer"], width=100, subsequent_indent="   "))
for c in r.get("citations", []):
    print(f"   [{c['index']}] {c['title']}  ({c['source'].split('/data/kb/')[-1]}, score {c['score']:.3f})")
line = f"confidence {r['confidence']:.2f}"
if r.get("escalated"):
    line += f"; escalated to the support desk: {r.get('escalation_reason') or 'low confidence'}"
print("   " + line)
EOF
}
ask "My thermostat screen says E02, what does that mean?"
ask "Does it connect to 5 GHz wifi?"
ask "Which ports does the thermostat need open on our office firewall?"
ask "Does the Calora T2 work with Zigbee hubs?"

step "Escalations waiting for the support desk (tinyrag escalations list)"
"$tinyrag" escalations list --server "$address"

step "Stopping the server"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=
echo "done"
