"""Protobuf wire check of proto/flipt/evaluation/evaluation.proto, Python side.

Generates Python message classes from the live proto file with protoc (from
`grpcio-tools`) into a temporary directory, so the check is made by Google's
protobuf runtime rather than by the Rust code under test.

    encode.py encode   prints JSON: every sample message serialised (hex),
                       plus the (message, field, number, type, oneof) table and
                       the enum value table read from the generated descriptors
    encode.py decode   reads JSON `{"samples": [{"name", "hex"}]}` on stdin
                       (bytes encoded by another implementation), parses each
                       with the Python classes, compares it with the same
                       sample built here and prints `{"results": {name: null
                       | "what differs"}}`

Each sample sets every field to a distinctive, non-default value (enums
included); `encode` refuses to run if some field of the file is not set by any
sample, so a field added to the proto cannot go unchecked.

Run by crates/flipt-proto/tests/it (`cargo test -p flipt-proto`) through the
project venv (`tools/venv.sh`).
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "proto"
PROTO_FILE = "flipt/evaluation/evaluation.proto"
PACKAGE = "flipt.evaluation."


def load_module(out_dir: Path):
    """Compiles the proto with protoc into `out_dir` and imports it."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    status = protoc.main([
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
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
    return importlib.import_module("flipt.evaluation.evaluation_pb2")


def samples(pb) -> dict:
    """Sample messages by name. Values are chosen to be distinct from each
    other and from defaults, and floats are exactly representable in f32."""
    from google.protobuf.timestamp_pb2 import Timestamp

    ts1 = Timestamp(seconds=1705312800, nanos=123456789)
    ts2 = Timestamp(seconds=1234567890, nanos=987654321)
    ts3 = Timestamp(seconds=1600000000, nanos=5)

    request = pb.EvaluationRequest(
        request_id="req-1", namespace_key="ns-α", flag_key="flag-β", entity_id="entity-γ",
        context={"plan": "gold", "unicode": "ü日本", "empty": ""},
        reference="ref-main", environment_key="env-prod",
    )
    request2 = pb.EvaluationRequest(
        request_id="req-2", namespace_key="ns-2", flag_key="flag-2", entity_id="entity-2",
        context={"k": "v"}, reference="ref-2", environment_key="env-2",
    )
    batch_request = pb.BatchEvaluationRequest(
        request_id="batch-1", requests=[request, request2], reference="ref-batch",
    )
    boolean = pb.BooleanEvaluationResponse(
        enabled=True, reason=pb.DEFAULT_EVALUATION_REASON, request_id="req-bool",
        request_duration_millis=12.625, timestamp=ts1, flag_key="bool-flag",
        segment_keys=["seg-a", "seg-b"],
    )
    variant = pb.VariantEvaluationResponse(
        match=True, segment_keys=["seg-c"], reason=pb.MATCH_EVALUATION_REASON,
        variant_key="variant-x", variant_attachment='{"a":1,"b":[true]}',
        request_id="req-var", request_duration_millis=0.25, timestamp=ts2,
        flag_key="variant-flag",
    )
    error = pb.ErrorEvaluationResponse(
        flag_key="missing-flag", namespace_key="ns-err",
        reason=pb.NOT_FOUND_ERROR_EVALUATION_REASON,
    )
    response_boolean = pb.EvaluationResponse(
        type=pb.BOOLEAN_EVALUATION_RESPONSE_TYPE, boolean_response=boolean)
    response_variant = pb.EvaluationResponse(
        type=pb.VARIANT_EVALUATION_RESPONSE_TYPE, variant_response=variant)
    response_error = pb.EvaluationResponse(
        type=pb.ERROR_EVALUATION_RESPONSE_TYPE, error_response=error)
    batch_response = pb.BatchEvaluationResponse(
        request_id="batch-resp",
        responses=[response_boolean, response_variant, response_error],
        request_duration_millis=3.75,
    )

    constraint = pb.EvaluationConstraint(
        id="c-1", type=pb.ENTITY_ID_CONSTRAINT_COMPARISON_TYPE, property="entityId",
        operator="isoneof", value='["a","b"]',
    )
    constraint2 = pb.EvaluationConstraint(
        id="c-2", type=pb.DATETIME_CONSTRAINT_COMPARISON_TYPE, property="signup",
        operator="gte", value="2024-01-15T10:00:00Z",
    )
    segment = pb.EvaluationSegment(
        key="seg-1", name="Segment One", description="first segment",
        match_type=pb.ANY_SEGMENT_MATCH_TYPE, created_at=ts1, updated_at=ts2,
        constraints=[constraint, constraint2],
    )
    distribution = pb.EvaluationDistribution(
        id="d-1", rule_id="r-1", variant_id="v-1", variant_key="blue",
        variant_attachment='{"color":"blue"}', rollout=33.25,
    )
    rule = pb.EvaluationRule(
        id="r-1", segments=[segment], rank=7, segment_operator=pb.AND_SEGMENT_OPERATOR,
        distributions=[distribution],
    )
    rollout_segment = pb.EvaluationRolloutSegment(
        value=True, segment_operator=pb.AND_SEGMENT_OPERATOR, segments=[segment])
    threshold = pb.EvaluationRolloutThreshold(percentage=12.5, value=True)
    rollout_by_segment = pb.EvaluationRollout(
        type=pb.SEGMENT_ROLLOUT_TYPE, rank=2, segment=rollout_segment)
    rollout_by_threshold = pb.EvaluationRollout(
        type=pb.THRESHOLD_ROLLOUT_TYPE, rank=3, threshold=threshold)
    variant_def = pb.EvaluationVariant(id="v-1", key="blue", attachment='{"color":"blue"}')
    # One flag with every field set; semantics (rules on a boolean flag) do
    # not matter on the wire.
    flag = pb.EvaluationFlag(
        key="flag-1", name="Flag One", description="all fields", enabled=True,
        type=pb.BOOLEAN_FLAG_TYPE, created_at=ts2, updated_at=ts3, rules=[rule],
        rollouts=[rollout_by_segment, rollout_by_threshold], default_variant=variant_def,
    )
    namespace = pb.EvaluationNamespace(key="ns-snap")
    snapshot = pb.EvaluationNamespaceSnapshot(namespace=namespace, flags=[flag])
    snapshot_request = pb.EvaluationNamespaceSnapshotRequest(key="ns-snap", reference="ref-snap")

    return {
        "EvaluationRequest": request,
        "BatchEvaluationRequest": batch_request,
        "BooleanEvaluationResponse": boolean,
        "VariantEvaluationResponse": variant,
        "ErrorEvaluationResponse": error,
        "EvaluationResponse.boolean": response_boolean,
        "EvaluationResponse.variant": response_variant,
        "EvaluationResponse.error": response_error,
        "BatchEvaluationResponse": batch_response,
        "EvaluationNamespaceSnapshotRequest": snapshot_request,
        "EvaluationNamespace": namespace,
        "EvaluationNamespaceSnapshot": snapshot,
        "EvaluationFlag": flag,
        "EvaluationVariant": variant_def,
        "EvaluationRule": rule,
        "EvaluationDistribution": distribution,
        "EvaluationRollout.segment": rollout_by_segment,
        "EvaluationRollout.threshold": rollout_by_threshold,
        "EvaluationRolloutSegment": rollout_segment,
        "EvaluationRolloutThreshold": threshold,
        "EvaluationSegment": segment,
        "EvaluationConstraint": constraint,
    }


def short_name(full_name: str) -> str:
    return full_name[len(PACKAGE):] if full_name.startswith(PACKAGE) else full_name


SCALARS = {
    "TYPE_BOOL": "bool", "TYPE_STRING": "string", "TYPE_DOUBLE": "double",
    "TYPE_FLOAT": "float", "TYPE_INT32": "int32", "TYPE_INT64": "int64",
    "TYPE_UINT32": "uint32", "TYPE_UINT64": "uint64", "TYPE_BYTES": "bytes",
}


def field_type(field) -> str:
    """`string`, `EvaluationReason`, `repeated EvaluationRule`,
    `map<string,string>`, `google.protobuf.Timestamp`, ..."""
    from google.protobuf.descriptor import FieldDescriptor

    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields
        return f"map<{field_type(key)},{field_type(value)}>"
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        base = short_name(field.message_type.full_name)
    elif field.type == FieldDescriptor.TYPE_ENUM:
        base = short_name(field.enum_type.full_name)
    else:
        names = {getattr(FieldDescriptor, n): v for n, v in SCALARS.items()}
        base = names[field.type]
    return f"repeated {base}" if field.is_repeated else base


def real_oneof(field) -> str:
    """Name of the field's oneof; "" for none or proto3 `optional`'s synthetic one."""
    oneof = field.containing_oneof
    if oneof is None or (len(oneof.fields) == 1 and oneof.name == "_" + field.name):
        return ""
    return oneof.name


def all_messages(pb):
    """Every message of the file (nested ones too), map entries excluded."""
    stack = list(pb.DESCRIPTOR.message_types_by_name.values())
    while stack:
        message = stack.pop()
        if message.GetOptions().map_entry:
            continue
        yield message
        stack.extend(message.nested_types)


def tables(pb) -> tuple[list, list]:
    fields = []
    for message in all_messages(pb):
        for field in message.fields:
            fields.append([short_name(message.full_name), field.name, field.number,
                           field_type(field), real_oneof(field)])
    enums = []
    for enum in pb.DESCRIPTOR.enum_types_by_name.values():
        for value in enum.values:
            enums.append([short_name(enum.full_name), value.name, value.number])
    return sorted(fields), sorted(enums)


def set_fields(message, seen: set) -> None:
    """Records (message, field) for every non-default field, recursively."""
    for field, value in message.ListFields():
        seen.add((short_name(message.DESCRIPTOR.full_name), field.name))
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        for item in (value if field.is_repeated else [value]):
            set_fields(item, seen)


def check_coverage(pb, sample_messages: dict) -> None:
    seen: set = set()
    for message in sample_messages.values():
        set_fields(message, seen)
    missing = [f"{short_name(m.full_name)}.{f.name}" for m in all_messages(pb)
               for f in m.fields if (short_name(m.full_name), f.name) not in seen]
    if missing:
        raise SystemExit("no sample sets these fields: " + ", ".join(sorted(missing)))


def encode(pb) -> dict:
    sample_messages = samples(pb)
    check_coverage(pb, sample_messages)
    fields, enums = tables(pb)
    return {
        "samples": [{"name": name, "hex": message.SerializeToString().hex()}
                    for name, message in sample_messages.items()],
        "fields": fields,
        "enums": enums,
    }


def decode(pb, request: dict) -> dict:
    sample_messages = samples(pb)
    results = {}
    for item in request["samples"]:
        name = item["name"]
        expected = sample_messages.get(name)
        if expected is None:
            results[name] = "no such sample on the Python side"
            continue
        decoded = type(expected)()
        try:
            decoded.ParseFromString(bytes.fromhex(item["hex"]))
        except Exception as err:  # noqa: BLE001 (report any parse failure)
            results[name] = f"does not parse: {err}"
            continue
        # Every sample field is non-default, so a field sent under a wrong
        # number is missing here (and kept aside as an unknown field).
        if decoded != expected:
            results[name] = f"decoded:\n{decoded}\nexpected:\n{expected}"
        else:
            results[name] = None
    return {"results": results}


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("encode", "decode"):
        raise SystemExit("usage: encode.py encode | decode < samples.json")
    with tempfile.TemporaryDirectory(prefix="wirecheck-") as out_dir:
        pb = load_module(Path(out_dir))
        if mode == "encode":
            output = encode(pb)
        else:
            output = decode(pb, json.load(sys.stdin))
    json.dump(output, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
