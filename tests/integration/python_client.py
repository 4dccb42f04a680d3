#!/usr/bin/python3
"""Interoperability check: a client written with Debian's python3-grpcio calls
a running tinyrag server (Ask, Retrieve, ListDocuments) and checks that the
responses are well formed and point at the knowledge base's documents; and
that server reflection (what grpcurl uses) lists the services and describes
RagService's methods.

  /usr/bin/python3 python_client.py ADDR [--api-key KEY] [--collection C] [--question Q]
                                         [--expect-source SUBSTRING]

The stubs are generated into a temporary folder with protoc and
grpc_python_plugin from proto/tinyrag/v1/*.proto. Exit 0 when every check
passes, 1 when one fails, 77 (skipped) when grpcio, protobuf, protoc or the
plugin is missing. Run it with /usr/bin/python3: the python3 first on PATH may
be a separate install that cannot see Debian's modules.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(message):
    print(f"python_client: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def generate_stubs(out_dir):
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    if protoc is None or not os.path.exists(plugin):
        print("python_client: SKIP: protoc or grpc_python_plugin is not installed", file=sys.stderr)
        sys.exit(SKIP)
    proto_dir = os.path.join(REPO, "proto")
    protos = sorted(glob.glob(os.path.join(proto_dir, "tinyrag", "v1", "*.proto")))
    check(protos, f"no .proto files under {proto_dir}")
    subprocess.run([protoc, f"--python_out={out_dir}", f"--grpc_out={out_dir}",
                    f"--plugin=protoc-gen-grpc={plugin}", f"-I{proto_dir}", *protos], check=True)
    sys.path.insert(0, out_dir)


REFLECTION_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


def fields(data):
    """The (field number, value) pairs of a serialized protobuf message: varints as ints,
    length-delimited fields as bytes (enough to read reflection answers without their stubs)."""
    out, i = [], 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 2:
            n = varint()
            out.append((number, data[i:i + n]))
            i += n
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            fail(f"reflection answer: unexpected wire type {wire}")
    return out


def length_delimited(number, payload):
    key, n, out = bytes([(number << 3) | 2]), len(payload), bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return key + bytes(out) + payload


def check_reflection(channel, timeout):
    """What grpcurl relies on: server reflection lists the services and describes RagService."""
    from google.protobuf import descriptor_pb2
    call = channel.stream_stream(REFLECTION_METHOD)  # raw bytes both ways
    # ServerReflectionRequest: list_services = 7, file_containing_symbol = 4.
    requests = [length_delimited(7, b""), length_delimited(4, b"tinyrag.v1.RagService")]
    answers = list(call(iter(requests), timeout=timeout))
    check(len(answers) == 2, f"reflection gave {len(answers)} answers to 2 requests")
    # ServerReflectionResponse: list_services_response = 6 { repeated ServiceResponse service = 1 { name = 1 } }.
    listed = {name.decode() for n, body in fields(answers[0]) if n == 6
              for m, service in fields(body) if m == 1
              for k, name in fields(service) if k == 1}
    for want in ("tinyrag.v1.RagService", "tinyrag.v1.EscalationService", "grpc.health.v1.Health"):
        check(want in listed, f"reflection does not list {want}: {sorted(listed)}")
    # file_descriptor_response = 4 { repeated bytes file_descriptor_proto = 1 }.
    methods = set()
    for n, body in fields(answers[1]):
        if n != 4:
            continue
        for m, raw in fields(body):
            if m == 1:
                f = descriptor_pb2.FileDescriptorProto.FromString(raw)
                methods |= {f"{f.package}.{s.name}/{x.name}" for s in f.service for x in s.method}
    for want in ("Ask", "AskStream", "Retrieve", "Ingest", "DeleteDocuments", "ListDocuments"):
        check(f"tinyrag.v1.RagService/{want}" in methods, f"reflection does not describe RagService/{want}: {sorted(methods)}")
    return listed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("address")
    parser.add_argument("--api-key", default=os.environ.get("TINYRAG_API_KEY", ""))
    parser.add_argument("--collection", default="")
    parser.add_argument("--question", default="How do I reset my password?")
    parser.add_argument("--expect-source", default="",
                        help="a substring every listed, retrieved and cited source must contain")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()

    try:
        import grpc  # noqa: F401  (Debian's python3-grpcio)
        import google.protobuf  # noqa: F401  (Debian's python3-protobuf)
    except ImportError as e:
        print(f"python_client: SKIP: {e} (install python3-grpcio and python3-protobuf; run with /usr/bin/python3)",
              file=sys.stderr)
        sys.exit(SKIP)

    with tempfile.TemporaryDirectory(prefix="tinyrag-pystubs-") as stubs:
        generate_stubs(stubs)
        from tinyrag.v1 import common_pb2, rag_pb2, rag_pb2_grpc

        metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
        with grpc.insecure_channel(args.address) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = rag_pb2_grpc.RagServiceStub(channel)
            services = check_reflection(channel, args.timeout)

            # ListDocuments: every page, document ids unique and increasing.
            documents, token = [], ""
            while True:
                page = stub.ListDocuments(
                    rag_pb2.ListDocumentsRequest(collection=args.collection, page_size=2, page_token=token),
                    metadata=metadata, timeout=args.timeout)
                documents.extend(page.documents)
                token = page.next_page_token
                if not token:
                    break
            check(documents, "ListDocuments returned no documents")
            ids = [d.document_id for d in documents]
            check(ids == sorted(set(ids)), f"ListDocuments ids not unique and in order: {ids}")
            for d in documents:
                check(d.document_id > 0 and d.title and d.source and d.chunks > 0,
                      f"incomplete document: {d}")
                check(args.expect_source in d.source, f"unexpected source {d.source}")
            known = set(ids)

            # Retrieve: ranks 1..n, best first, passages of listed documents.
            retrieved = stub.Retrieve(
                rag_pb2.RetrieveRequest(question=args.question, collection=args.collection, top_k=3,
                                        mode=common_pb2.RETRIEVAL_MODE_HYBRID),
                metadata=metadata, timeout=args.timeout)
            passages = list(retrieved.passages)
            check(1 <= len(passages) <= 3, f"Retrieve returned {len(passages)} passages for top_k 3")
            check([p.rank for p in passages] == list(range(1, len(passages) + 1)), "Retrieve ranks are not 1..n")
            scores = [p.score for p in passages]
            check(scores == sorted(scores, reverse=True), f"Retrieve scores not best first: {scores}")
            for p in passages:
                check(p.document_id in known, f"Retrieve passage of unknown document {p.document_id}")
                check(p.text.strip(), "Retrieve passage without text")

            # Ask: a well-formed answer whose citations are among its passages.
            answer = stub.Ask(rag_pb2.AskRequest(question=args.question, collection=args.collection, top_k=3,
                                                 max_tokens=16, request_id="python-client-check"),
                              metadata=metadata, timeout=args.timeout)
            check(0.0 <= answer.confidence <= 1.0, f"confidence {answer.confidence} not in [0, 1]")
            check(answer.passages, "Ask returned no passages")
            ranks = {p.rank for p in answer.passages}
            for p in answer.passages:
                check(p.document_id in known, f"Ask passage of unknown document {p.document_id}")
            for r in answer.cited_ranks:
                check(r in ranks, f"cited rank {r} is not a passage rank {sorted(ranks)}")
            check(answer.request_id == "python-client-check", f"request id not echoed: {answer.request_id!r}")
            if answer.escalated:
                check(answer.escalation_reason != common_pb2.ESCALATION_REASON_UNSPECIFIED,
                      "escalated without a reason")
                check(answer.escalation_id, "escalated without an escalation id")
            check(answer.timings.total_ms > 0, "Ask timings.total_ms is not positive")

            # A bad request reaches a Python client as a gRPC status code.
            try:
                stub.Retrieve(rag_pb2.RetrieveRequest(question="", collection=args.collection),
                              metadata=metadata, timeout=args.timeout)
                fail("an empty question was accepted")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
                      f"empty question gave {e.code()}, not INVALID_ARGUMENT")

    print(f"python_client: OK: reflection lists {len(services)} services, {len(documents)} documents, "
          f"{len(passages)} passages, "
          f"answer of {answer.tokens.answer_tokens} tokens, confidence {answer.confidence:.3f}, "
          f"escalated={answer.escalated}")


if __name__ == "__main__":
    main()
