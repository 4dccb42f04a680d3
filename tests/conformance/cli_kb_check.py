#!/usr/bin/env python3
"""The knowledge-base commands end to end, on a MiniLM-shaped random-weight
encoder (tinyrag mkmodel): ingest, search (every mode, --json per cli.md),
docs list/delete, a metadata-only change, --delete-missing, searches and docs
list running beside an ingest (a second ingest refused naming it), a data dir
owned by a server refused with a clear message, and an ingest killed with
SIGKILL mid-run that a rerun completes without redoing the committed
documents.

usage: cli_kb_check.py TINYRAG"""
import fcntl
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print(f"FAIL: {what}")


def run(cmd, expect=0):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode} (wanted {expect}): {p.stderr.strip()}")
    return p


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def documents_in(db):
    """Documents committed so far, read beside the running writer (WAL)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def main():
    tinyrag = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "minilm.gguf")
        run([tinyrag, "mkmodel", "--preset", "minilm-l6", "--type", "f16", "-o", model])
        kb = os.path.join(tmp, "kb")
        docs = os.path.join(tmp, "docs")
        write(f"{docs}/install.md", "# Install\n\nDownload the package and run the installer on Linux.\n")
        write(f"{docs}/faq/billing.txt", "Invoices are sent on the first day of every month.\n")
        write(f"{docs}/faq/broken.txt", "bad\0bytes")
        base = [tinyrag, "ingest", docs, "--data-dir", kb, "--encoder", model, "--json"]

        s = json.loads(run(base).stdout)
        for key in ("documents_added", "documents_updated", "documents_unchanged", "documents_failed",
                    "chunks_added", "seconds"):
            check(key in s, f"ingest --json lacks {key}")
        check(s["documents_added"] == 2 and s["documents_failed"] == 1, f"first ingest: {s}")
        s = json.loads(run(base).stdout)
        check(s["documents_unchanged"] == 2 and s["chunks_added"] == 0, f"re-ingest: {s}")

        for mode in ("hybrid", "dense", "lexical"):
            out = json.loads(run([tinyrag, "search", "--data-dir", kb, "--mode", mode, "-k", "2", "--json",
                                  "when are invoices sent"]).stdout)
            results = out["results"]
            check(len(results) >= 1, f"search --mode {mode} found nothing")
            for i, r in enumerate(results):
                for key in ("rank", "document_id", "title", "source", "text", "score", "dense_score",
                            "lexical_score"):
                    check(key in r, f"search result lacks {key}")
                check(r["rank"] == i + 1, "ranks are 1, 2, ...")
            if mode != "dense":
                check(results[0]["source"].endswith("billing.txt"), f"{mode}: best result {results[0]['source']}")

        listed = json.loads(run([tinyrag, "docs", "list", "--data-dir", kb, "--json"]).stdout)["documents"]
        check(len(listed) == 2, f"docs list: {listed}")
        billing = [d for d in listed if d["source"].endswith("billing.txt")][0]
        run([tinyrag, "docs", "delete", "--data-dir", kb, str(billing["id"])])
        out = json.loads(run([tinyrag, "search", "--data-dir", kb, "--mode", "dense", "-k", "5", "--json",
                              "invoices"]).stdout)
        check(all(not r["source"].endswith("billing.txt") for r in out["results"]), "deleted document found")
        run([tinyrag, "docs", "delete", "--data-dir", kb, "--source", f"{docs}/install.md"])
        listed = json.loads(run([tinyrag, "docs", "list", "--data-dir", kb, "--json"]).stdout)["documents"]
        check(listed == [], f"docs after deleting both: {listed}")

        # Metadata-only change: updated, nothing embedded.
        faq = os.path.join(tmp, "faq")
        record = {"id": "faq-1", "title": "Refunds", "text": "Refunds take five days.", "metadata": {"team": "a"}}
        write(f"{faq}/faq.jsonl", json.dumps(record) + "\n")
        faq_cmd = [tinyrag, "ingest", faq, "--data-dir", kb, "--encoder", model, "--json"]
        check(json.loads(run(faq_cmd).stdout)["documents_added"] == 1, "faq ingest")
        record["metadata"]["team"] = "b"
        write(f"{faq}/faq.jsonl", json.dumps(record) + "\n")
        s = json.loads(run(faq_cmd).stdout)
        check(s["documents_updated"] == 1 and s["chunks_added"] == 0 and s["chunks_removed"] == 0,
              f"metadata-only change: {s}")
        listed = json.loads(run([tinyrag, "docs", "list", "--data-dir", kb, "--json"]).stdout)["documents"]
        check([d["metadata"].get("team") for d in listed] == ["b"], f"metadata after update: {listed}")

        # --delete-missing: a removed file's documents go; without it they stay.
        run(base)
        os.remove(f"{docs}/install.md")
        s = json.loads(run(base).stdout)
        check(s["documents_deleted"] == 0, f"deleted without --delete-missing: {s}")
        s = json.loads(run(base + ["--delete-missing"]).stdout)
        check(s["documents_deleted"] == 1 and s["documents_unchanged"] == 1, f"--delete-missing: {s}")
        listed = json.loads(run([tinyrag, "docs", "list", "--data-dir", kb, "--json"]).stdout)["documents"]
        check(sorted(os.path.basename(d["source"]) for d in listed) == ["billing.txt", "faq.jsonl"],
              f"docs after --delete-missing: {listed}")

        # A data dir owned by a server (its locks, taken as data_dir_lock.h
        # describes) refuses every command, saying so.
        with open(os.path.join(kb, "LOCK"), "a+") as lock, open(os.path.join(kb, "LOCK.shared"), "a+") as shared:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(shared, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for f in (lock, shared):
                f.truncate(0)
                f.write(f"{os.getpid()} exclusive\n")
                f.flush()
            for cmd in ([tinyrag, "search", "--data-dir", kb, "--mode", "lexical", "invoices"],
                        [tinyrag, "docs", "list", "--data-dir", kb], base):
                p = subprocess.run(cmd, capture_output=True, text=True)
                check(p.returncode != 0 and f"owned by a running server (pid {os.getpid()})" in p.stderr
                      and "--server ADDR" in p.stderr, f"server-owned message of {cmd[1]}: {p.stderr.strip()}")

        # Many small files, killed mid-run; meanwhile a second process is refused.
        many = os.path.join(tmp, "many")
        n = 1000
        for i in range(n):
            write(f"{many}/f{i:03d}.txt", f"Document {i} talks about topic number {i} and nothing else.\n")
        crash = os.path.join(tmp, "crash")
        cmd = [tinyrag, "ingest", many, "--data-dir", crash, "--encoder", model, "--batch", "8", "--json"]
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        db = os.path.join(crash, "store.sqlite")
        deadline = time.time() + 60
        while documents_in(db) < 20 and child.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        # Readers run beside the writer and see whole documents: each result's
        # text is the one of the file it names.
        searches = 0
        while searches < 6 and child.poll() is None and documents_in(db) < n // 2:
            mode = ("lexical", "dense", "hybrid")[searches % 3]
            before = documents_in(db)
            p = subprocess.run([tinyrag, "search", "--data-dir", crash, "--mode", mode, "-k", "5", "--json",
                                "topic number"], capture_output=True, text=True)
            if child.poll() is not None:
                break
            searches += 1
            check(p.returncode == 0, f"search beside the ingest failed: {p.stderr.strip()}")
            if p.returncode != 0:
                continue
            results = json.loads(p.stdout)["results"]
            check(len(results) == 5, f"{mode} search beside the ingest ({before} documents committed): {results}")
            for r in results:
                m = re.search(r"Document (\d+) talks", r["text"])
                check(m is not None and r["source"].endswith(f"f{int(m.group(1)):03d}.txt"),
                      f"result text and source disagree: {r}")
        check(searches >= 1, "the ingest finished before any search could run beside it")
        listing = subprocess.run([tinyrag, "docs", "list", "--data-dir", crash, "--json"], capture_output=True,
                                 text=True)
        check(listing.returncode == 0, f"docs list beside the ingest: {listing.stderr.strip()}")
        busy = subprocess.run(cmd, capture_output=True, text=True)
        check(busy.returncode != 0 and f"in use by pid {child.pid}, which is writing it" in busy.stderr,
              f"second ingest not refused clearly: {busy.returncode} {busy.stderr.strip()}")
        child.send_signal(signal.SIGKILL)
        child.wait()
        check(child.returncode == -signal.SIGKILL, "the ingest finished before it could be killed")
        committed = documents_in(db)
        check(0 < committed < n, f"{committed} documents committed before the kill")
        s = json.loads(run(cmd).stdout)
        check(s["documents_unchanged"] == committed and s["documents_added"] == n - committed,
              f"rerun after SIGKILL: {s} with {committed} committed")
        listed = json.loads(run([tinyrag, "docs", "list", "--data-dir", crash, "--json"]).stdout)["documents"]
        check(len(listed) == n and all(d["chunks"] == 1 for d in listed), "documents after the rerun")
        out = json.loads(run([tinyrag, "search", "--data-dir", crash, "--mode", "lexical", "-k", "1", "--json",
                              "topic number 123"]).stdout)
        check(out["results"] and out["results"][0]["source"].endswith("f123.txt"), f"search after rerun: {out}")
        out = json.loads(run([tinyrag, "search", "--data-dir", crash, "--mode", "dense", "-k", "5", "--json",
                              "topic"]).stdout)
        check(len(out["results"]) == 5, "dense search after the rerun")
    print("PASS" if not FAILURES else f"FAILED ({len(FAILURES)})")
    return 0 if not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())
