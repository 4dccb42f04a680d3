#!/usr/bin/env python3
"""End-to-end check of the client commands against a real `tinyrag serve`.

  cli_client_check.py --tinyrag BIN --shared DIR [--python-client SCRIPT]

Ingests three small documents into a temporary data dir with the local CLI,
starts `tinyrag serve` on a free loopback port with the tiny fixture models
(DIR/fixtures/models: a BERT encoder and a Qwen2 decoder), or without them
MiniLM- and SmolLM2-135M-shaped random-weight models from `tinyrag mkmodel`
(the text is meaningless either way, so the checks are about passages,
citations and well-formed output), waits for its `listening on ADDR` line, then:
  - default: runs `ask --json`, `ask --stream`, an escalated `ask`,
    `escalations list/show/resolve` and `ingest --server`, and checks the
    outputs and that they cite ingested documents;
  - --python-client SCRIPT: runs SCRIPT (the grpcio interoperability client)
    with /usr/bin/python3 against the server and passes on its status.
The server is stopped at the end, also on failure. Standard library only.
Exit 0 on success, 1 on a failed check, 77 (skipped) when the Python client
skips (no Debian grpcio/protobuf).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77

DOCUMENTS = {
    "password.md": "# Password reset\n\nTo reset your password, open the settings page and choose "
                   "'Forgot password'. A reset link is sent to your registered email address within five "
                   "minutes.\n",
    "billing.md": "# Billing\n\nInvoices are issued on the first day of each month. Refunds for annual "
                  "plans are prorated and reach your card within ten business days.\n",
    "shipping.txt": "Shipping\n\nParcels leave our warehouse in Rotterdam every weekday. International "
                    "delivery takes four to seven days and is tracked by courier.\n",
}
LATE_DOCUMENT = ("warranty.md", "# Warranty\n\nEvery kettle carries a three year warranty covering the "
                                "heating element and the thermostat.\n")


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def test_models(cli, shared, work, who):
    """(encoder, decoder): the tiny fixture models under SHARED/fixtures/models, or without them (a
    user's machine, CI) random-weight MiniLM- and SmolLM2-135M-shaped ones written into WORK."""
    models = os.path.join(shared, "fixtures", "models")
    encoder = os.path.join(models, "bert-tiny-q8_0.gguf")
    decoder = os.path.join(models, "qwen2-tiny-q8_0.gguf")
    if os.path.exists(encoder) and os.path.exists(decoder):
        return encoder, decoder
    print(f"{who}: no fixture models under {models}; writing them with mkmodel", file=sys.stderr)
    encoder = os.path.join(work, "minilm-l6-q8_0.gguf")
    decoder = os.path.join(work, "smollm2-135m-q8_0.gguf")
    cli.run("mkmodel", "--preset", "minilm-l6", "--type", "q8_0", "-o", encoder)
    cli.run("mkmodel", "--preset", "smollm2-135m", "--type", "q8_0", "-o", decoder)
    return encoder, decoder


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cli:
    def __init__(self, binary, env):
        self.binary = binary
        self.env = env

    def run(self, *args, expect=0, timeout=300):
        p = subprocess.run([self.binary, *args], capture_output=True, text=True, env=self.env, timeout=timeout)
        if expect is not None and p.returncode != expect:
            raise CheckFailed(f"tinyrag {' '.join(args)}: exit {p.returncode} (expected {expect})\n"
                              f"stdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def json(self, *args):
        out = self.run(*args).stdout
        try:
            return json.loads(out)
        except json.JSONDecodeError as e:
            raise CheckFailed(f"tinyrag {' '.join(args)}: stdout is not one JSON object ({e}): {out!r}")


class Server:
    """`tinyrag serve` in the background; stop() kills it (idempotent)."""

    def __init__(self, binary, args, log_path, env):
        self.log = open(log_path, "w+")
        self.proc = subprocess.Popen([binary, "serve", *args], stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=env, start_new_session=True)
        self.log_path = log_path

    def wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                for line in f:
                    if "listening on " in line:
                        return line.split("listening on ", 1)[1].strip()
            if self.proc.poll() is not None:
                raise CheckFailed(f"tinyrag serve exited with {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.2)
        raise CheckFailed(f"tinyrag serve did not print 'listening on' within {timeout} s:\n{self.tail()}")

    def tail(self):
        with open(self.log_path) as f:
            return "".join(f.readlines()[-30:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def check_ask_json(r, sources):
    for key in ("answer", "confidence", "escalated", "escalation_reason", "citations", "timings_ms",
                "request_id", "passages", "tokens", "confidence_components"):
        check(key in r, f"ask --json lacks {key}: {r}")
    check(isinstance(r["answer"], str), "answer is not a string")
    check(0.0 <= r["confidence"] <= 1.0, f"confidence {r['confidence']} not in [0,1]")
    check(set(r["timings_ms"]) >= {"embed", "retrieve", "prefill", "decode", "total"},
          f"timings_ms keys: {r['timings_ms']}")
    check(r["passages"], "no passages")
    ranks = {p["rank"] for p in r["passages"]}
    for p in r["passages"]:
        check(p["source"] in sources, f"passage from unknown source {p['source']}")
    for c in r["citations"]:
        check(set(c) >= {"index", "document_id", "title", "source", "text", "score"}, f"citation keys: {c}")
        check(c["index"] in ranks, f"citation [{c['index']}] is not a passage")
        check(c["source"] in sources, f"citation of unknown source {c['source']}")
    if r["escalated"]:
        check(r["escalation_reason"] in ("low_confidence", "i_dont_know", "generation_failed", "timed_out"),
              f"escalation_reason {r['escalation_reason']!r}")
        check(r["escalation_id"], "escalated without an escalation_id")
    else:
        check(r["escalation_reason"] == "", f"not escalated but reason {r['escalation_reason']!r}")


def client_checks(cli, addr, docs_dir, sources, work):
    server = ["--server", addr]
    # ask --json: the password document is the best passage for a password question.
    r = cli.json("ask", *server, "--json", "-k", "2", "--max-tokens", "12", "--threshold", "0",
                 "How do I reset my password?")
    check_ask_json(r, sources)
    check(r["passages"][0]["source"].endswith("password.md"),
          f"best passage for a password question: {r['passages'][0]['source']}")
    check(r["escalation_reason"] != "low_confidence", "threshold 0 escalated for low confidence")

    # ask --stream: text, then the details block.
    out = cli.run("ask", *server, "--stream", "--max-tokens", "12", "When are invoices issued?").stdout
    check("\nconfidence: " in out, f"ask --stream output lacks the confidence line: {out!r}")

    # An escalation: threshold 1 makes any answer low-confidence.
    r = cli.json("ask", *server, "--json", "--max-tokens", "8", "--threshold", "1", "--request-id",
                 "cli-check-escalation", "How long does international delivery take?")
    check_ask_json(r, sources)
    check(r["escalated"], "threshold 1 did not escalate")
    esc_id = r["escalation_id"]
    human = cli.run("ask", *server, "--max-tokens", "8", "--threshold", "1", "--request-id",
                    "cli-check-escalation", "How long does international delivery take?").stdout
    check(f"escalated: {r['escalation_reason']} ({esc_id})" in human, f"human escalation line missing: {human!r}")

    listed = cli.json("escalations", "list", *server, "--status", "open", "--json")
    check("next_page_token" in listed, "escalations list --json lacks next_page_token")
    check(esc_id in [e["id"] for e in listed["escalations"]], f"{esc_id} not listed as open")
    table = cli.run("escalations", "list", *server).stdout
    check(esc_id in table, "escalations list table lacks the escalation")
    shown = cli.json("escalations", "show", *server, esc_id, "--json")
    check(shown["question"] == "How long does international delivery take?", f"show question: {shown['question']}")
    check(shown["status"] == "open", f"show status {shown['status']}")
    check(all(p["source"] in sources for p in shown["passages"]), "escalation passages of unknown sources")
    resolved = cli.json("escalations", "resolve", *server, esc_id, "--note", "answered by the desk", "--json")
    check(resolved["status"] == "resolved" and resolved["resolution_note"] == "answered by the desk",
          f"resolve: {resolved}")
    again = cli.run("escalations", "resolve", *server, esc_id, expect=1)
    check(again.stderr.startswith("tinyrag: "), f"second resolve error: {again.stderr!r}")
    missing = cli.run("escalations", "show", *server, "no-such-escalation", expect=1)
    check(missing.stderr.startswith("tinyrag: "), f"unknown id error: {missing.stderr!r}")
    check(esc_id not in [e["id"] for e in cli.json("escalations", "list", *server, "--status", "open",
                                                    "--json")["escalations"]], "resolved escalation still open")

    # ingest --server: a new document is added, then unchanged; the server finds it.
    late = os.path.join(work, "late")
    os.makedirs(late)
    with open(os.path.join(late, LATE_DOCUMENT[0]), "w") as f:
        f.write(LATE_DOCUMENT[1])
    with open(os.path.join(late, "notes.xyz"), "w") as f:
        f.write("unsupported extension\n")
    s = cli.json("ingest", *server, late, "--json")
    for key in ("documents_added", "documents_updated", "documents_unchanged", "documents_failed", "chunks_added",
                "seconds"):
        check(key in s, f"ingest --server --json lacks {key}: {s}")
    check(s["documents_added"] == 1 and s["documents_failed"] == 1 and s["chunks_added"] >= 1,
          f"first remote ingest: {s}")
    s = cli.json("ingest", *server, os.path.join(late, LATE_DOCUMENT[0]), "--json")
    check(s["documents_unchanged"] == 1 and s["documents_added"] == 0, f"second remote ingest: {s}")
    # Files ingested locally are unchanged when sent through the server (.md keeps its headings).
    s = cli.json("ingest", *server, docs_dir, "--json")
    check(s["documents_unchanged"] == len(DOCUMENTS) and s["documents_updated"] == 0,
          f"remote ingest of the locally ingested files: {s}")
    late_source = os.path.realpath(os.path.join(late, LATE_DOCUMENT[0]))
    r = cli.json("ask", *server, "--json", "--max-tokens", "4", "What does the kettle warranty cover?")
    check_ask_json(r, sources | {late_source})
    check(late_source in [p["source"] for p in r["passages"]], "the remotely ingested document is not retrieved")

    # Errors: an unreachable server and a bad request.
    dead = f"127.0.0.1:{free_port()}"
    p = cli.run("ask", "--server", dead, "--timeout", "10", "hello", expect=1)
    check(f"cannot reach the server at {dead}" in p.stderr, f"unreachable server message: {p.stderr!r}")
    p = cli.run("ask", *server, "", expect=1)
    check(p.stderr.startswith("tinyrag: ") and p.stdout == "", f"empty question: {p.stderr!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tinyrag", required=True)
    parser.add_argument("--shared", required=True)
    parser.add_argument("--python-client", default="")
    parser.add_argument("--startup-timeout", type=float, default=180)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("TINYRAG_SERVER", "TINYRAG_API_KEY")}
    cli = Cli(args.tinyrag, env)
    with tempfile.TemporaryDirectory(prefix="tinyrag-client-check-") as work:
        encoder, decoder = test_models(cli, args.shared, work, "cli_client_check")
        docs_dir = os.path.join(work, "docs")
        os.makedirs(docs_dir)
        for name, text in DOCUMENTS.items():
            with open(os.path.join(docs_dir, name), "w") as f:
                f.write(text)
        sources = {os.path.realpath(os.path.join(docs_dir, n)) for n in DOCUMENTS}
        data_dir = os.path.join(work, "kb")
        s = cli.json("ingest", docs_dir, "--data-dir", data_dir, "--encoder", encoder, "--json")
        check(s["documents_added"] == len(DOCUMENTS), f"local ingest: {s}")

        # The fixture decoder's context is 1024 tokens: answers and prompts stay well inside it.
        # (The server caps the context at the model's.)
        config = os.path.join(work, "serve.yaml")
        with open(config, "w") as f:
            f.write("answer:\n  top_k: 3\n  max_tokens: 32\n  max_max_tokens: 128\n"
                    "metrics:\n  listen: \"\"\nlog:\n  format: text\n")
        addr = f"127.0.0.1:{free_port()}"
        server = Server(args.tinyrag, ["--config", config, "--data-dir", data_dir, "--encoder", encoder,
                                       "--decoder", decoder, "--listen", addr], os.path.join(work, "serve.log"), env)
        try:
            listening = server.wait_listening(args.startup_timeout)
            check(listening == addr, f"server says listening on {listening!r}, asked for {addr}")
            if args.python_client:
                p = subprocess.run(["/usr/bin/python3", args.python_client, addr, "--expect-source", os.path.realpath(docs_dir),
                                    "--question", "How do I reset my password?"], env=env)
                return p.returncode
            client_checks(cli, addr, docs_dir, sources, work)
        except CheckFailed as e:
            print(f"cli_client_check: FAIL: {e}\n--- server log (tail) ---\n{server.tail()}", file=sys.stderr)
            return 1
        finally:
            server.stop()
    print("cli_client_check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
