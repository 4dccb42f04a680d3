#!/usr/bin/env python3
"""`tinyrag eval retrieval` on the shared SQuAD 2.0 subset with a MiniLM-shaped
random-weight encoder: lexical recall@5 must reach the issue's 0.80 (the dense
and hybrid numbers of a random encoder mean nothing; they are printed and only
checked for shape). A second run must re-embed no paragraph.

usage: eval_retrieval_check.py TINYRAG SQUAD_JSON
Exits 77 (skip) when SQUAD_JSON is absent."""
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


def main():
    tinyrag, squad = sys.argv[1], sys.argv[2]
    if not os.path.exists(squad):
        print(f"SKIP: {squad} not found (../shared beside the checkout)")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "minilm-f16.gguf")
        run([tinyrag, "mkmodel", "--preset", "minilm-l6", "--type", "f16", "-o", model])
        cmd = [tinyrag, "eval", "retrieval", "--squad", squad, "--encoder", model,
               "--data-dir", os.path.join(tmp, "kb"), "--json"]
        first = json.loads(run(cmd))
        print(json.dumps({k: first[k] for k in ("questions", "documents", "chunks", "lexical", "dense", "hybrid")}))
        ok = True
        if first["questions"] < 1 or first["documents"] < 1:
            print("FAIL: no questions or documents")
            ok = False
        for mode in ("lexical", "dense", "hybrid"):
            m = first[mode]
            for key in ("recall@1", "recall@5", "recall@10", "mrr@10"):
                if not 0.0 <= m[key] <= 1.0:
                    print(f"FAIL: {mode} {key} = {m[key]} outside [0, 1]")
                    ok = False
            if not m["recall@1"] <= m["recall@5"] <= m["recall@10"]:
                print(f"FAIL: {mode} recall is not monotonic: {m}")
                ok = False
        if first["lexical"]["recall@5"] < 0.80:
            print(f"FAIL: lexical recall@5 {first['lexical']['recall@5']:.3f} < 0.80")
            ok = False
        if first["ingest"]["documents_added"] != first["documents"]:
            print(f"FAIL: first run added {first['ingest']['documents_added']} of {first['documents']} paragraphs")
            ok = False
        second = json.loads(run(cmd))
        ingest = second["ingest"]
        if ingest["documents_unchanged"] != first["documents"] or ingest["chunks_added"] != 0:
            print(f"FAIL: the rerun re-ingested paragraphs: {ingest}")
            ok = False
        if second["lexical"] != first["lexical"]:
            print("FAIL: the rerun's lexical metrics differ")
            ok = False
    print("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
