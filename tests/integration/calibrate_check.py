#!/usr/bin/env python3
"""`tinyrag calibrate` writes a confidence file that `tinyrag serve` then scores with.

  calibrate_check.py --tinyrag BIN --shared DIR

Writes a small SQuAD 2.0 file (answerable and unanswerable questions), runs
`tinyrag calibrate` on it into a temporary data dir with the tiny fixture
models (DIR/fixtures/models) or, without them, random-weight models from
`tinyrag mkmodel`, and checks the file: both weight sets (generative and
extractive), finite weights for every feature, notes naming the SQuAD file.
Then starts `tinyrag serve` on that data dir (which loads DATA_DIR/confidence.json
when present) and asks one question in each answer mode: each answer's
confidence must be sigmoid(bias + sum of weight x feature) with that mode's
fitted set, and each component's contribution its weight x value, so the
server really scores with what calibrate wrote. Standard library only;
exit 0 on success, 1 on a failed check.
"""
import argparse
import json
import math
import os
import sys
import tempfile

from cli_client_check import CheckFailed, Cli, Server, check, free_port, test_models

FEATURES = ("best_fused", "best_dense", "best_lexical", "fused_margin", "mean_logprob", "min_logprob",
            "no_answer", "lexical_support", "semantic_support")

ARTICLES = [
    ("Kettle", [
        ("The kettle boils one litre of water in three minutes. Its base holds a thermostat that "
         "switches the heater off at one hundred degrees.",
         [("How long does the kettle take to boil a litre?", False),
          ("What colour is the kettle's handle?", True)]),
        ("Every kettle carries a three year warranty covering the heating element.",
         [("How long is the kettle warranty?", False),
          ("Who manufactures the kettle's glass?", True)]),
    ]),
    ("Router", [
        ("The router broadcasts on the 2.4 GHz and 5 GHz bands. Error E02 means the cable is unplugged.",
         [("What does error E02 mean on the router?", False),
          ("How many antennas does the router have?", True)]),
        ("A factory reset takes ten seconds: hold the reset button until the light blinks.",
         [("How do I factory reset the router?", False),
          ("What is the router's default admin password?", True)]),
    ]),
]


def squad_json():
    data = []
    for title, paragraphs in ARTICLES:
        paras = []
        for context, questions in paragraphs:
            qas = [{"id": f"{title}-{i}", "question": q, "is_impossible": impossible, "answers": []}
                   for i, (q, impossible) in enumerate(questions)]
            paras.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": paras})
    return {"version": "v2.0", "data": data}


def check_weight_set(name, s):
    check(set(s["weights"]) == set(FEATURES), f"{name} weights: {sorted(s['weights'])}")
    for k, v in [("bias", s["bias"]), *s["weights"].items()]:
        check(isinstance(v, (int, float)) and math.isfinite(v), f"{name} {k} = {v!r}")
    check("SQuAD" in s.get("note", ""), f"{name} note does not name the SQuAD file: {s.get('note')!r}")


def check_scored_with(r, weights, mode):
    components = {c["name"]: c for c in r["confidence_components"]}
    check(set(components) == set(FEATURES), f"{mode} answer components: {sorted(components)}")
    logit = weights["bias"]
    for name, c in components.items():
        want = weights["weights"][name] * c["value"]
        check(abs(c["contribution"] - want) <= 1e-6 * max(1.0, abs(want)),
              f"{mode} answer: {name} contributes {c['contribution']}, weight x value is {want}")
        logit += want
    want = 1 / (1 + math.exp(-logit))
    check(abs(r["confidence"] - want) <= 1e-6,
          f"{mode} answer: confidence {r['confidence']}, the calibrated weights give {want}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tinyrag", required=True)
    parser.add_argument("--shared", required=True)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k not in ("TINYRAG_SERVER", "TINYRAG_API_KEY")}
    cli = Cli(args.tinyrag, env)
    with tempfile.TemporaryDirectory(prefix="tinyrag-calibrate-check-") as work:
        server = None
        try:
            encoder, decoder = test_models(cli, args.shared, work, "calibrate_check")
            squad = os.path.join(work, "squad.json")
            with open(squad, "w") as f:
                json.dump(squad_json(), f)
            data_dir = os.path.join(work, "kb")
            report = cli.json("calibrate", "--squad", squad, "--encoder", encoder, "--decoder", decoder,
                              "--data-dir", data_dir, "--max-tokens", "16", "--json")
            path = os.path.join(data_dir, "confidence.json")
            check(os.path.exists(path), f"calibrate wrote no {path}; its report: {report}")
            with open(path) as f:
                fitted = json.load(f)
            check_weight_set("generative", fitted)
            check("extractive" in fitted, f"no extractive set in {sorted(fitted)}")
            check_weight_set("extractive", fitted["extractive"])

            config = os.path.join(work, "serve.yaml")
            with open(config, "w") as f:
                f.write("default_collection: squad\nanswer:\n  top_k: 3\n  max_tokens: 16\n  max_max_tokens: 128\n"
                        "metrics:\n  listen: \"\"\nlog:\n  format: text\n")
            addr = f"127.0.0.1:{free_port()}"
            server = Server(args.tinyrag, ["--config", config, "--data-dir", data_dir, "--encoder", encoder,
                                           "--decoder", decoder, "--listen", addr], os.path.join(work, "serve.log"),
                            env)
            server.wait_listening(180)
            question = "What does error E02 mean on the router?"
            for mode, weights in (("generative", fitted), ("extractive", fitted["extractive"])):
                r = cli.json("ask", "--server", addr, "--mode", mode, "--json", question)
                check(r["passages"], f"{mode} answer has no passages: {r}")
                check_scored_with(r, weights, mode)
        except CheckFailed as e:
            tail = f"\n--- server log (tail) ---\n{server.tail()}" if server else ""
            print(f"calibrate_check: FAIL: {e}{tail}", file=sys.stderr)
            return 1
        finally:
            if server:
                server.stop()
    print("calibrate_check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
