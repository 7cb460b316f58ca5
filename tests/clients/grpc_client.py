"""Runs a scenario of evaluation calls through a Python `grpcio` client whose
stubs are generated at run time from proto/flipt/evaluation/evaluation.proto,
and prints the answers.

    grpc_client.py GRPC_TARGET SCENARIO.json

GRPC_TARGET is `host:port`. Scenario format as in server_sdk.py; `boolean`,
`variant` and `batch` calls go to the `Boolean`, `Variant` and `Batch` RPCs.
The output is `{"results": [{"name", "ok": response} | {"name", "error":
{"code", "message"}}]}`, responses rendered by protobuf's own JSON mapping
(camelCase names, enum names, default values included), errors with the gRPC
status code name.

Run by crates/flipt-e2e/tests/it/clients.rs.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from importlib import resources
from pathlib import Path

import grpc
from google.protobuf import json_format

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "flipt/evaluation/evaluation.proto"
TIMEOUT_SECONDS = 10


def load_stubs(out_dir: Path):
    """Compiles the proto (messages and service stubs) into `out_dir` and
    imports the generated modules."""
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
        raise SystemExit(f"grpc_client.py: protoc failed on {PROTO_FILE} (exit {status})")
    # The PyPI `flipt` SDK in the same venv is a regular package named
    # `flipt`, which would win over generated directories without
    # `__init__.py`; as regular packages first on sys.path they win instead.
    for package in (out_dir / "flipt", out_dir / "flipt" / "evaluation"):
        (package / "__init__.py").touch()
    sys.path.insert(0, str(out_dir))
    messages = importlib.import_module("flipt.evaluation.evaluation_pb2")
    services = importlib.import_module("flipt.evaluation.evaluation_pb2_grpc")
    return messages, services


def to_json(message) -> dict:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def run(pb, stub, call: dict):
    op = call["op"]
    if op == "boolean":
        request = json_format.ParseDict(call["request"], pb.EvaluationRequest())
        return stub.Boolean(request, timeout=TIMEOUT_SECONDS)
    if op == "variant":
        request = json_format.ParseDict(call["request"], pb.EvaluationRequest())
        return stub.Variant(request, timeout=TIMEOUT_SECONDS)
    if op == "batch":
        request = json_format.ParseDict({"requests": call["requests"]}, pb.BatchEvaluationRequest())
        return stub.Batch(request, timeout=TIMEOUT_SECONDS)
    raise SystemExit(f"grpc_client.py: unknown op {op!r} in call {call['name']!r}")


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: grpc_client.py GRPC_TARGET SCENARIO.json")
    target, scenario_path = sys.argv[1], sys.argv[2]
    with open(scenario_path, encoding="utf-8") as f:
        scenario = json.load(f)

    results = []
    with tempfile.TemporaryDirectory() as out_dir:
        pb, services = load_stubs(Path(out_dir))
        with grpc.insecure_channel(target) as channel:
            stub = services.EvaluationServiceStub(channel)
            for call in scenario["calls"]:
                try:
                    response = run(pb, stub, call)
                except grpc.RpcError as err:
                    # Unavailable or a deadline means no answer, not an answer.
                    if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise
                    results.append(
                        {"name": call["name"], "error": {"code": err.code().name, "message": err.details()}}
                    )
                    continue
                results.append({"name": call["name"], "ok": to_json(response)})
    json.dump({"results": results}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
