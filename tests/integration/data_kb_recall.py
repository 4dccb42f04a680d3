#!/usr/bin/env python3
"""Lexical retrieval quality on the sample knowledge base, end to end with
the CLI: `tinyrag ingest data/kb`, then `tinyrag search --mode lexical` for
every answerable question of data/questions.jsonl. Documents are ranked by
their best chunk (the first occurrence of a source in the chunk list), as
`tinyrag eval retrieval` does.

Prints recall@5 (share of answerable questions with a gold document among
the first 5 documents), recall@1 and the share of all gold documents found
in the first 5. Dense and hybrid search are not measured: the encoder here is
a random-weight MiniLM-shaped model from `tinyrag mkmodel`, whose vectors
mean nothing; lexical search does not depend on it.

usage: data_kb_recall.py TINYRAG REPO_ROOT [--min-recall5 X] [--json]
Exits 1 when recall@5 is below --min-recall5 (default 0: report only)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def ranked_documents(results, kb):
    """Distinct sources in rank order, relative to the knowledge-base root."""
    seen = []
    for r in results:
        rel = os.path.relpath(os.path.realpath(r["source"]), kb)
        if rel not in seen:
            seen.append(rel)
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tinyrag")
    ap.add_argument("repo")
    ap.add_argument("--min-recall5", type=float, default=0.0)
    ap.add_argument("--json", action="store_true", help="print the per-question ranks as JSON too")
    args = ap.parse_args()
    kb = os.path.realpath(os.path.join(args.repo, "data", "kb"))
    with open(os.path.join(args.repo, "data", "questions.jsonl"), encoding="utf-8") as f:
        questions = [json.loads(line) for line in f if line.strip()]
    answerable = [q for q in questions if q["answerable"]]
    if not answerable:
        sys.exit("FAIL: no answerable questions")

    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "minilm.gguf")
        run([args.tinyrag, "mkmodel", "--preset", "minilm-l6", "--type", "f16", "-o", model])
        data_dir = os.path.join(tmp, "data")
        ingest = json.loads(run([args.tinyrag, "ingest", kb, "--data-dir", data_dir, "--encoder", model, "--json"]))
        if ingest.get("documents_failed", 0) != 0:
            sys.exit(f"FAIL: {ingest['documents_failed']} documents failed to ingest")

        hits1 = hits5 = gold_found = gold_total = 0
        per_question = []
        for q in answerable:
            out = run([args.tinyrag, "search", "--data-dir", data_dir, "--mode", "lexical", "-k", "30", "--json",
                       q["question"]])
            docs = ranked_documents(json.loads(out)["results"], kb)
            gold = set(q["gold_documents"])
            ranks = [docs.index(g) + 1 for g in gold if g in docs]
            first = min(ranks) if ranks else None
            hits1 += first == 1
            hits5 += first is not None and first <= 5
            gold_found += sum(1 for r in ranks if r <= 5)
            gold_total += len(gold)
            per_question.append({"id": q["id"], "first_gold_rank": first, "top5": docs[:5]})
            if first is None or first > 5:
                print(f"miss {q['id']}: {q['question']!r} gold={sorted(gold)} top5={docs[:5]}")

    n = len(answerable)
    summary = {"questions": n, "documents_added": ingest.get("documents_added"),
               "recall@1": hits1 / n, "recall@5": hits5 / n, "gold_documents_in_top5": gold_found / gold_total}
    if args.json:
        summary["per_question"] = per_question
    print(json.dumps(summary, indent=1 if args.json else None))
    if summary["recall@5"] < args.min_recall5:
        sys.exit(f"FAIL: lexical recall@5 {summary['recall@5']:.3f} < {args.min_recall5}")


if __name__ == "__main__":
    main()
