#!/usr/bin/env bash
# Builds the GGUF reader fuzz target with clang++-14 (libFuzzer + ASan + UBSan)
# in its own build tree and fuzzes it for a fixed time from a seed corpus.
#
# usage: tests/fuzz/run_fuzz.sh [BUILD_DIR] [SECONDS]
#   BUILD_DIR  defaults to <repo>/build-fuzz; SECONDS defaults to 60.
#   Seeds: tests/fuzz/corpus/ plus every *.gguf under ../shared/fixtures (when present;
#   inputs longer than -max_len are truncated by libFuzzer, which still exercises
#   the real headers and metadata).
# Exits non-zero when the fuzzer finds a crash, leak, timeout or OOM (1 for a
# crash, never 77, which ctest could read as a skip); the reproducer is left in
# BUILD_DIR/artifacts/.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$SRC/build-fuzz}"
SECONDS_TO_RUN="${2:-60}"
CXX="${FUZZ_CXX:-clang++-14}"
MAX_LEN="${FUZZ_MAX_LEN:-32768}"

if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "run_fuzz.sh: $CXX not found (scripts/install-deps.sh installs clang-14)" >&2
  exit 1
fi

SOURCES=(
  "$SRC/tests/fuzz/gguf_reader_fuzz.cpp"
  "$SRC/model/gguf_reader.cpp"
  "$SRC/model/mapped_file.cpp"
  "$SRC/model/gguf_writer.cpp"
  "$SRC/model/gguf_value.cpp"
  "$SRC/model/tensor_type.cpp"
)
HEADERS=("$SRC/model/gguf.h" "$SRC/model/mapped_file.h" "$SRC/model/tensor_type.h" "$SRC/tests/fuzz/run_fuzz.sh")
BIN="$OUT/gguf_reader_fuzz"
mkdir -p "$OUT/corpus" "$OUT/artifacts" "$OUT/fixture-seeds"

# Rebuild only when a source is newer than the binary.
needs_build=0
[[ -x "$BIN" ]] || needs_build=1
for f in "${SOURCES[@]}" "${HEADERS[@]}"; do
  [[ "$f" -nt "$BIN" ]] && needs_build=1
done
if (( needs_build )); then
  echo "run_fuzz.sh: building $BIN"
  # shellcheck disable=SC2046
  "$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$SRC" "${SOURCES[@]}" -o "$BIN.tmp" \
    $(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format absl_flat_hash_map)
  mv "$BIN.tmp" "$BIN"
fi

# Fixture models as extra seeds (links, so nothing is copied).
FIXTURES="$SRC/../shared/fixtures"
SEED_DIRS=("$SRC/tests/fuzz/corpus")
if [[ -d "$FIXTURES" ]]; then
  find "$FIXTURES" -name '*.gguf' -exec ln -sf {} "$OUT/fixture-seeds/" \;
  SEED_DIRS+=("$OUT/fixture-seeds")
else
  echo "run_fuzz.sh: $FIXTURES absent; fuzzing from tests/fuzz/corpus only"
fi

# New interesting inputs go to $OUT/corpus (the first directory); seeds stay read-only.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$BIN" "$OUT/corpus" "${SEED_DIRS[@]}" \
  -max_total_time="$SECONDS_TO_RUN" -max_len="$MAX_LEN" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -dict="$SRC/tests/fuzz/gguf.dict" -timeout=10 -error_exitcode=1 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/"
