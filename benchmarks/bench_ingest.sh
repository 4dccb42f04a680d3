#!/bin/sh
# Ingestion throughput end to end: `tinyrag ingest` of a folder of text files
# with an all-MiniLM-L6-v2-shaped random-weight encoder (mkmodel --preset
# minilm-l6, F16). Reports chunks/s and the share of the run spent outside the
# encoder (extraction, chunking, SQLite, FAISS, snapshots): the issue's target
# is under 10%. The corpus is every distinct paragraph of the SQuAD subset in
# ../shared (real English prose, one file per paragraph, COPIES times), or
# generated sentences when ../shared is absent. Builds and downloads nothing.
#
# usage: benchmarks/bench_ingest.sh TINYRAG_BIN [THREADS] [COPIES]
#   e.g. benchmarks/bench_ingest.sh build/bin/tinyrag 2 4
set -eu
TINYRAG=${1:?usage: bench_ingest.sh TINYRAG_BIN [THREADS] [COPIES]}
THREADS=${2:-2}
COPIES=${3:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
SQUAD_DIR="$HERE/../../shared/data/squad2-subset"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$TINYRAG" mkmodel --preset minilm-l6 --type f16 -o "$WORK/minilm-f16.gguf" 2>/dev/null
python3 - "$SQUAD_DIR" "$WORK/corpus" "$COPIES" <<'PY'
import json, os, random, sys
squad_dir, out, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
paragraphs = []
for name in ("dev-v2.0.json", "train-v2.0.json"):
    path = os.path.join(squad_dir, name)
    if os.path.exists(path):
        for article in json.load(open(path, encoding="utf-8"))["data"]:
            paragraphs += [p["context"] for p in article["paragraphs"]]
paragraphs = sorted(set(paragraphs))
source = "squad"
if not paragraphs:
    source = "generated"
    rng = random.Random(7)
    words = ("the river city court king army church people water century trade north power law music time "
             "school war land sea year empire bridge market road island state language border valley").split()
    for _ in range(150):
        paragraphs.append(" ".join(" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."
                                   for _ in range(rng.randint(4, 9))))
os.makedirs(out)
for c in range(copies):
    for i, text in enumerate(paragraphs):
        with open(os.path.join(out, f"c{c}-p{i:04d}.txt"), "w", encoding="utf-8") as f:
            f.write(f"Copy {c}.\n\n{text}\n")
print(f"# corpus: {len(paragraphs)} {source} paragraphs x {copies} copies = {len(paragraphs) * copies} files",
      file=sys.stderr)
PY

"$TINYRAG" ingest "$WORK/corpus" --data-dir "$WORK/kb" --encoder "$WORK/minilm-f16.gguf" -t "$THREADS" --json \
  > "$WORK/ingest.json"
python3 - "$WORK/ingest.json" "$THREADS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
outside = 1 - s["embed_seconds"] / s["seconds"]
print(json.dumps({"threads": int(sys.argv[2]), "files": s["files"], "documents_added": s["documents_added"],
                  "chunks": s["chunks_added"], "seconds": round(s["seconds"], 3),
                  "embed_seconds": round(s["embed_seconds"], 3),
                  "chunks_per_s": round(s["chunks_added"] / s["seconds"], 1),
                  "outside_embedding_share": round(outside, 4)}))
PY
# The same run again: every file unchanged, nothing embedded.
"$TINYRAG" ingest "$WORK/corpus" --data-dir "$WORK/kb" --encoder "$WORK/minilm-f16.gguf" -t "$THREADS" --json \
  | python3 -c 'import json,sys; s=json.load(sys.stdin); print(json.dumps({"rerun_unchanged": s["documents_unchanged"], "rerun_seconds": round(s["seconds"], 3)}))'
