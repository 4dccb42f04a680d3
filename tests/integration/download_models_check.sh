#!/usr/bin/env bash
# scripts/download-models.sh without the internet: argument handling, the offline failure,
# and the download logic against a local HTTP server laid out like Hugging Face
# (REPO/resolve/REVISION/FILE) holding the real small all-MiniLM-L6-v2 files from
# ../shared/fixtures/minilm and stand-ins for the large ones. shellcheck runs when installed.
#
# usage: download_models_check.sh REPO_ROOT
set -uo pipefail

repo=$1
script="$repo/scripts/download-models.sh"
fixtures="$repo/../shared/fixtures/minilm"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# expect STATUS PATTERN -- COMMAND...: the exit status and a line of its output.
expect() {
  local want=$1 pattern=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  [[ $rc -eq $want ]] || fail "'$*' exited $rc, wanted $want; output:"$'\n'"$out"
  grep -qE -- "$pattern" <<<"$out" || fail "'$*' did not print /$pattern/; output:"$'\n'"$out"
}

if command -v shellcheck >/dev/null; then
  shellcheck "$script" "$0" || fail "shellcheck"
else
  echo "shellcheck not installed: lint skipped"
fi

expect 0 "--with-smollm2" -- "$script" --help
expect 2 "unknown argument '--bogus'" -- "$script" --bogus
expect 2 "--dir needs a value" -- "$script" --dir
expect 2 "--timeout needs a positive" -- "$script" --timeout abc

# Offline (a closed port stands for an unreachable Hugging Face): one clear message, status 3,
# nothing written.
export TINYRAG_HF_ENDPOINT=http://127.0.0.1:9
expect 3 "cannot reach http://127.0.0.1:9" -- "$script" --dir "$tmp/offline" --timeout 2 --trust
[[ ! -e "$tmp/offline" ]] || fail "the offline run created $tmp/offline"
# Without --trust the unpinned decoder is refused and named.
expect 3 "refused  qwen2.5-0.5b-instruct-q4_k_m.gguf" -- "$script" --dir "$tmp/offline" --timeout 2
expect 6 "missing  all-MiniLM-L6-v2/model.safetensors" -- "$script" --dir "$tmp/offline" --check

if [[ ! -f "$fixtures/config.json" ]]; then
  echo "SKIP: $fixtures absent: the download tests need the real small all-MiniLM-L6-v2 files"
  [[ $failures -eq 0 ]] || exit 1
  exit 77
fi

# A local "Hugging Face".
hub="$tmp/hub"
minilm="$hub/sentence-transformers/all-MiniLM-L6-v2/resolve/1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
qwen="$hub/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main"
mkdir -p "$minilm" "$qwen"
cp "$fixtures"/{config.json,vocab.txt,tokenizer_config.json,special_tokens_map.json,sentence_bert_config.json} "$minilm/"
echo "not the real weights" >"$minilm/model.safetensors"
echo "a stand-in decoder" >"$qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$hub" "$port" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
export TINYRAG_HF_ENDPOINT="http://127.0.0.1:$port"

models="$tmp/models"
# The small files verify; the wrong weights are refused and deleted (status 4); the unpinned
# decoder is accepted with --trust and its hash printed and kept.
stand_in_sha=$(sha256sum "$qwen/qwen2.5-0.5b-instruct-q4_k_m.gguf" | cut -d' ' -f1)
expect 4 "model.safetensors: sha256 [0-9a-f]{64}, expected 53aa5117" -- "$script" --dir "$models" --trust
[[ -f "$models/all-MiniLM-L6-v2/vocab.txt" ]] || fail "vocab.txt not downloaded"
cmp -s "$fixtures/vocab.txt" "$models/all-MiniLM-L6-v2/vocab.txt" || fail "vocab.txt differs from its source"
[[ ! -e "$models/all-MiniLM-L6-v2/model.safetensors" ]] || fail "the mismatching weights were kept"
[[ -z $(find "$models" -name '*.part') ]] || fail ".part files left behind"
grep -q "^$stand_in_sha " "$models/qwen2.5-0.5b-instruct-q4_k_m.gguf.sha256" || fail "trusted hash not kept"

# Rerun: present files are verified without downloading (the server is gone, so any fetch
# would fail), the trusted decoder against its kept hash; only the weights are missing.
kill "$server_pid"
wait "$server_pid" 2>/dev/null
server_pid=
expect 6 "ok       qwen2.5-0.5b-instruct-q4_k_m.gguf" -- "$script" --dir "$models" --check
expect 6 "ok       all-MiniLM-L6-v2/config.json" -- "$script" --dir "$models" --check
expect 3 "cannot reach" -- "$script" --dir "$models" --timeout 2
# A file altered after download is reported.
echo "tampered" >>"$models/all-MiniLM-L6-v2/config.json"
expect 6 "mismatch all-MiniLM-L6-v2/config.json" -- "$script" --dir "$models" --check
expect 4 "is not the pinned file" -- "$script" --dir "$models" --timeout 2

if [[ $failures -ne 0 ]]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "download-models.sh: all checks passed"
