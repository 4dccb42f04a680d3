#!/usr/bin/python3
"""A minimal tinyrag client in Python: asks one question over gRPC and prints the
answer, its citations and the confidence. Debian's python3-grpcio and
python3-protobuf (run it with /usr/bin/python3), protoc and grpc_python_plugin
(protobuf-compiler, protobuf-compiler-grpc) are all it needs.

  /usr/bin/python3 docs/examples/ask_client.py [--server 127.0.0.1:50051] [--api-key KEY] QUESTION
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import grpc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_stubs(out_dir):
    """Generates the Python modules for proto/tinyrag/v1/*.proto into out_dir."""
    proto_dir = os.path.join(REPO, "proto")
    protos = sorted(glob.glob(os.path.join(proto_dir, "tinyrag", "v1", "*.proto")))
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out_dir}", f"--grpc_out={out_dir}",
                    "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", *protos], check=True)
    sys.path.insert(0, out_dir)
    from tinyrag.v1 import rag_pb2, rag_pb2_grpc  # noqa: E402 (generated above)
    return rag_pb2, rag_pb2_grpc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("question")
    parser.add_argument("--server", default=os.environ.get("TINYRAG_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--api-key", default=os.environ.get("TINYRAG_API_KEY", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rag_pb2, rag_pb2_grpc = load_stubs(tmp)
        with grpc.insecure_channel(args.server) as channel:
            stub = rag_pb2_grpc.RagServiceStub(channel)
            metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
            try:
                response = stub.Ask(rag_pb2.AskRequest(question=args.question, top_k=3),
                                    metadata=metadata, timeout=120)
            except grpc.RpcError as e:  # e.g. INVALID_ARGUMENT with the server's reason
                sys.exit(f"ask failed: {e.code().name}: {e.details()}")
    print(response.answer)
    cited = set(response.cited_ranks)
    for p in response.passages:
        if p.rank in cited:
            print(f"  [{p.rank}] {p.title} ({p.source})")
    print(f"confidence {response.confidence:.2f}" + (" (escalated)" if response.escalated else ""))


if __name__ == "__main__":
    main()
