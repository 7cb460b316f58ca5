#!/usr/bin/env python3
"""Calls the evaluation service over gRPC with a Python grpcio client whose
stubs are generated on the fly from proto/flipt/evaluation/evaluation.proto.

    tools/venv.sh
    .venv/bin/python tools/evaluate.py variant --namespace checkout \\
        --flag payment-provider --entity user-42 [--context key=value ...]

Prints the response as JSON (protojson field names) and the `x-trace-id`
the server returned.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "flipt/evaluation/evaluation.proto"


def load_stubs(out_dir: Path):
    """Generates message and service stubs into `out_dir` and imports them."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    status = protoc.main([
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_ROOT / PROTO_FILE),
    ])
    if status != 0:
        raise SystemExit(f"protoc failed on {PROTO_FILE} (exit {status})")
    # The PyPI `flipt` SDK in the same venv is a regular package named
    # `flipt`, which would win over generated directories without
    # `__init__.py`; as regular packages first on sys.path they win instead.
    for package in (out_dir / "flipt", out_dir / "flipt" / "evaluation"):
        (package / "__init__.py").touch()
    sys.path.insert(0, str(out_dir))
    messages = importlib.import_module("flipt.evaluation.evaluation_pb2")
    services = importlib.import_module("flipt.evaluation.evaluation_pb2_grpc")
    return messages, services


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rpc", choices=["boolean", "variant"])
    parser.add_argument("--address", default="127.0.0.1:9000", help="gRPC address (default 127.0.0.1:9000)")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--flag", required=True)
    parser.add_argument("--entity", required=True)
    parser.add_argument("--context", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    import grpc
    from google.protobuf import json_format

    with tempfile.TemporaryDirectory() as out:
        pb, rpc = load_stubs(Path(out))
        context = dict(item.split("=", 1) for item in args.context)
        request = pb.EvaluationRequest(
            namespace_key=args.namespace, flag_key=args.flag, entity_id=args.entity, context=context
        )
        with grpc.insecure_channel(args.address) as channel:
            stub = rpc.EvaluationServiceStub(channel)
            call = stub.Boolean if args.rpc == "boolean" else stub.Variant
            try:
                response, info = call.with_call(request, timeout=5)
            except grpc.RpcError as err:
                print(f"{err.code().name}: {err.details()}", file=sys.stderr)
                return 1
        print(json_format.MessageToJson(response, always_print_fields_with_no_presence=True))
        trace_id = dict(info.initial_metadata()).get("x-trace-id")
        if trace_id:
            print(f"x-trace-id: {trace_id}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
