#!/usr/bin/env bash
# Downloads the recommended real models from Hugging Face into models/ (see --help).
#
# Every file has a pinned repository revision (a commit) and SHA-256 where one could be
# established; those values are listed in MODELS below with where they come from. A file
# without a pinned SHA-256 is fetched only with --trust: its computed hash is printed and kept
# beside it (FILE.sha256) so later runs verify it against that instead.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/download-models.sh [--dir DIR] [--with-smollm2] [--trust] [--check] [--timeout SECONDS]

Downloads into DIR (default: models/ at the repository root):
  all-MiniLM-L6-v2/                    sentence-transformers/all-MiniLM-L6-v2 as a Hugging Face folder
                                       (config.json, vocab.txt, tokenizer_config.json,
                                       special_tokens_map.json, sentence_bert_config.json,
                                       model.safetensors),
                                       the encoder: `tinyrag ... --encoder DIR/all-MiniLM-L6-v2`
  qwen2.5-0.5b-instruct-q4_k_m.gguf    Qwen/Qwen2.5-0.5B-Instruct-GGUF, the decoder
  smollm2-360m-instruct-q8_0.gguf      HuggingFaceTB/SmolLM2-360M-Instruct-GGUF (only with --with-smollm2)

Files already present with the expected SHA-256 are skipped, so the script can be rerun.
Downloads go to FILE.part and are renamed once their hash is checked.

  --dir DIR          where to put the models
  --with-smollm2     also fetch SmolLM2-360M-Instruct
  --trust            accept files that have no SHA-256 pinned in this script: print the hash
                     computed after downloading and keep it in FILE.sha256 for later runs
  --check            download nothing: report which files are present and verified
  --timeout SECONDS  connection timeout (default 20); a transfer slower than 1 KB/s for
                     60 s is abandoned
  -h, --help         this help

Environment: TINYRAG_HF_ENDPOINT replaces https://huggingface.co (a mirror).
Exit status: 0 done; 1 a download failed; 2 bad usage; 3 Hugging Face unreachable (offline?);
4 a SHA-256 mismatch; 5 a file without a pinned SHA-256 and no --trust; 6 --check found files
missing or unverified.
EOF
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$repo_root/models"
with_smollm2=0
trust=0
check_only=0
timeout=20
endpoint=${TINYRAG_HF_ENDPOINT:-https://huggingface.co}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir)
      [[ $# -ge 2 ]] || { echo "error: --dir needs a value" >&2; exit 2; }
      dir=$2
      shift 2
      ;;
    --with-smollm2) with_smollm2=1; shift ;;
    --trust) trust=1; shift ;;
    --check) check_only=1; shift ;;
    --timeout)
      [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "error: --timeout needs a positive number of seconds" >&2; exit 2; }
      timeout=$2
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# One line per file: destination (relative to DIR) | repository | revision | path in the
# repository | SHA-256. An empty revision means the branch "main" (only with --trust, which
# prints the commit it resolved to); an empty SHA-256 means none is pinned.
#
# all-MiniLM-L6-v2 at commit 1110a243…: the model.safetensors hash (90,868,376 bytes) is the one
# several independent projects pin together with that commit; the config.json and vocab.txt
# hashes are pinned by other projects too and match the copies in ../shared/fixtures/minilm,
# whose three other small files give the remaining hashes. Not fetched: tokenizer.json (the
# encoder reads vocab.txt first), modules.json and 1_Pooling/config.json (without them the
# encoder uses what they say for this model: the Transformer at the top level, mean pooling,
# L2 normalization).
#
# Qwen2.5-0.5B-Instruct-GGUF and SmolLM2-360M-Instruct-GGUF: no commit or SHA-256 could be
# established from references available when this script was written, so they need --trust;
# pin the commit and hash the script prints to make later downloads verifiable.
minilm_rev=1110a243fdf4706b3f48f1d95db1a4f5529b4d41
MODELS=(
  "all-MiniLM-L6-v2/config.json|sentence-transformers/all-MiniLM-L6-v2|$minilm_rev|config.json|953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
  "all-MiniLM-L6-v2/vocab.txt|sentence-transformers/all-MiniLM-L6-v2|$minilm_rev|vocab.txt|07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
  "all-MiniLM-L6-v2/tokenizer_config.json|sentence-transformers/all-MiniLM-L6-v2|$minilm_rev|tokenizer_config.json|acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
  "all-MiniLM-L6-v2/special_tokens_map.json|sentence-transformers/all-MiniLM-L6-v2|$minilm_rev|special_tokens_map.json|303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"
  "all-MiniLM-L6-v2/sentence_bert_config.json|sentence-transformers/all-MiniLM-L6-v2|$minilm_rev|sentence_bert_config.json|fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"
  "all-MiniLM-L6-v2/model.safetensors|sentence-transformers/all-MiniLM-L6-v2|$minilm_rev|model.safetensors|53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  "qwen2.5-0.5b-instruct-q4_k_m.gguf|Qwen/Qwen2.5-0.5B-Instruct-GGUF||qwen2.5-0.5b-instruct-q4_k_m.gguf|"
)
if [[ $with_smollm2 -eq 1 ]]; then
  MODELS+=("smollm2-360m-instruct-q8_0.gguf|HuggingFaceTB/SmolLM2-360M-Instruct-GGUF||smollm2-360m-instruct-q8_0.gguf|")
fi

for tool in curl sha256sum; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed (apt install $tool)" >&2; exit 1; }
done

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The hash a file must have: the pinned one, else the one remembered after a --trust download.
expected_sha() {
  local dest=$1 pinned=$2
  if [[ -n $pinned ]]; then
    echo "$pinned"
  elif [[ -f "$dir/$dest.sha256" ]]; then
    cut -d' ' -f1 "$dir/$dest.sha256"
  fi
}

# Pass 1: what is already here (no network needed when everything is).
pending=()
missing=0
for entry in "${MODELS[@]}"; do
  IFS='|' read -r dest repo rev path sha <<<"$entry"
  want=$(expected_sha "$dest" "$sha")
  file="$dir/$dest"
  if [[ -f $file ]]; then
    got=$(sha256_of "$file")
    if [[ -n $want && $got == "$want" ]]; then
      echo "ok       $dest (sha256 verified)"
      continue
    fi
    if [[ -n $want ]]; then
      echo "mismatch $dest: sha256 $got, expected $want" >&2
      if [[ $check_only -eq 1 ]]; then missing=1; continue; fi
      echo "error: $file is not the pinned file; remove it and rerun" >&2
      exit 4
    fi
    echo "present  $dest, no SHA-256 pinned; computed sha256 $got"
    if [[ $check_only -eq 1 ]]; then missing=1; continue; fi
    if [[ $trust -eq 0 ]]; then
      echo "error: $dest has no pinned SHA-256; check the hash above and rerun with --trust to accept it" >&2
      exit 5
    fi
    echo "$got  $(basename "$dest")" >"$file.sha256"
    echo "trusted  $dest (hash kept in $dest.sha256)"
    continue
  fi
  echo "missing  $dest"
  missing=1
  pending+=("$entry")
done

if [[ $check_only -eq 1 ]]; then
  if [[ $missing -eq 1 ]]; then exit 6; fi
  exit 0
fi
if [[ ${#pending[@]} -eq 0 ]]; then
  echo "All models present in $dir."
  exit 0
fi

# Files that cannot be verified wait for --trust; the others are fetched regardless.
downloads=()
refused=0
for entry in "${pending[@]}"; do
  IFS='|' read -r dest repo rev path sha <<<"$entry"
  if [[ -z $(expected_sha "$dest" "$sha") && $trust -eq 0 ]]; then
    echo "refused  $dest ($repo): no SHA-256 pinned in this script, so it cannot be verified." >&2
    echo "         Rerun with --trust to download it anyway: the script prints its computed SHA-256 and" >&2
    echo "         the commit it came from (pin both in MODELS to make later downloads verifiable)." >&2
    refused=1
    continue
  fi
  downloads+=("$entry")
done
if [[ ${#downloads[@]} -eq 0 ]]; then exit 5; fi

# One probe, so that being offline gives one clear message instead of a failure per file.
if ! curl -sS -o /dev/null --head --connect-timeout "$timeout" --max-time "$((timeout * 2))" "$endpoint/" 2>/dev/null; then
  echo "error: cannot reach $endpoint (no internet connection, or a proxy/firewall blocks it)." >&2
  echo "       Nothing was downloaded. Without real models, use random-weight ones: tinyrag mkmodel." >&2
  exit 3
fi

mkdir -p "$dir"
status=0  # the first failure's exit status; the other files are still fetched
for entry in "${downloads[@]}"; do
  IFS='|' read -r dest repo rev path sha <<<"$entry"
  want=$(expected_sha "$dest" "$sha")
  file="$dir/$dest"
  mkdir -p "$(dirname "$file")"
  url="$endpoint/$repo/resolve/${rev:-main}/$path"
  headers=$(mktemp)
  echo "fetch    $dest <- $url"
  # -C -: a .part left by an interrupted run is continued, not restarted.
  if ! curl -fL --retry 3 --connect-timeout "$timeout" --speed-limit 1024 --speed-time 60 \
      -C - -D "$headers" -o "$file.part" "$url"; then
    rm -f "$headers"
    echo "error: downloading $url failed (the partial file $file.part is kept; rerun to resume)" >&2
    [[ $status -ne 0 ]] || status=1
    continue
  fi
  commit=$(grep -i '^x-repo-commit:' "$headers" | tail -n1 | tr -d '\r' | cut -d' ' -f2 || true)
  rm -f "$headers"
  got=$(sha256_of "$file.part")
  if [[ -n $want ]]; then
    if [[ $got != "$want" ]]; then
      rm -f "$file.part"
      echo "error: $dest: sha256 $got, expected $want; the download was deleted" >&2
      [[ $status -ne 0 ]] || status=4
      continue
    fi
    echo "ok       $dest (sha256 verified)"
  else
    echo "trusted  $dest: sha256 $got, commit ${commit:-unknown} (not verified: no pinned hash)"
    echo "$got  $(basename "$dest")" >"$file.sha256"
  fi
  mv -f "$file.part" "$file"
done
if [[ $status -ne 0 ]]; then exit "$status"; fi
if [[ $refused -eq 1 ]]; then
  echo "Some models were not downloaded (see 'refused' above); the others are ready in $dir." >&2
  exit 5
fi
echo "Models ready in $dir."
