"""Evaluates requests locally with Flipt's PyPI client-side SDK
(`flipt-client`, bundling Flipt's native engine), which loads each namespace
from the server's snapshot endpoint, and prints the results.

    client_side.py HTTP_URL CASES.json

CASES is `{"namespaces": [{"namespace", "cases": [{"flag", "kind":
"variant" | "boolean", "entityId", "context"}]}]}`. The output is
`{"results": {namespace: [outcome, ...]}, "paths": {...}, "flags": {...}}`
with outcomes in case order:

* `{"type": "variant", "match", "reason", "variantKey", "variantAttachment",
  "segmentKeys"}` (segment keys sorted: the engine's order carries no meaning)
* `{"type": "boolean", "enabled", "reason", "segmentKeys"}`
* `{"type": "error", "message"}`

Requests go through the SDK's `evaluate_batch` when the case's kind is the
flag's type (the batch picks the evaluation by flag type), through
`evaluate_variant` / `evaluate_boolean` otherwise (the SDK answers an error).
The SDK's wrappers refuse empty or blank entity ids before the engine sees
them; those cases are evaluated through the same engine entry points the
wrappers call, so the engine's answer is still compared. `paths` counts the
cases per route, `flags` the flags each engine loaded.

The server must be running before a client is constructed: the engine's first
fetch happens inside the constructor, and a refused connection aborts the
whole process.
"""

from __future__ import annotations

import ctypes
import json
import sys
from datetime import timedelta

from flipt_client import FliptClient
from flipt_client.errors import EvaluationError
from flipt_client.models import (
    BooleanResult,
    ClientOptions,
    ErrorStrategy,
    EvaluationRequest,
    VariantResult,
    model_from_json,
)

FLAG_TYPES = {"variant": "VARIANT_FLAG_TYPE", "boolean": "BOOLEAN_FLAG_TYPE"}


def variant_outcome(r) -> dict:
    return {
        "type": "variant",
        "match": r.match,
        "reason": r.reason,
        "variantKey": r.variant_key,
        # The SDK models an absent attachment as None; the wire has "".
        "variantAttachment": r.variant_attachment or "",
        "segmentKeys": sorted(r.segment_keys),
    }


def boolean_outcome(r) -> dict:
    return {
        "type": "boolean",
        "enabled": r.enabled,
        "reason": r.reason,
        "segmentKeys": sorted(r.segment_keys),
    }


def error_outcome(message: str) -> dict:
    return {"type": "error", "message": message}


def engine_call(client: FliptClient, namespace: str, case: dict) -> dict:
    """Evaluates through the engine entry point the SDK's wrappers use,
    skipping their entity-id check, and parses with the SDK's own models."""
    request = json.dumps({
        "namespace_key": namespace,
        "flag_key": case["flag"],
        "entity_id": case["entityId"],
        "context": case["context"],
    }).encode("utf-8")
    ffi = client.ffi_core
    variant = case["kind"] == "variant"
    raw = (ffi.evaluate_variant if variant else ffi.evaluate_boolean)(client.engine, request)
    try:
        text = ctypes.cast(raw, ctypes.c_char_p).value
    finally:
        ffi.destroy_string(raw)
    result = model_from_json(VariantResult if variant else BooleanResult, text)
    if result.status != "success":
        return error_outcome(result.error_message or "")
    return variant_outcome(result.result) if variant else boolean_outcome(result.result)


def single_call(client: FliptClient, case: dict) -> dict:
    try:
        if case["kind"] == "variant":
            return variant_outcome(client.evaluate_variant(case["flag"], case["entityId"], case["context"]))
        return boolean_outcome(client.evaluate_boolean(case["flag"], case["entityId"], case["context"]))
    except EvaluationError as err:
        return error_outcome(str(err))


def evaluate_namespace(url: str, namespace: str, cases: list, paths: dict, flags: dict) -> list:
    client = FliptClient(
        ClientOptions(
            url=url,
            namespace=namespace,
            # Every case is evaluated on the snapshot fetched by the
            # constructor; background polls would fetch the same state.
            update_interval=timedelta(hours=1),
            error_strategy=ErrorStrategy.FAIL,
        )
    )
    try:
        types = {flag.key: flag.type.value for flag in client.list_flags()}
        flags[namespace] = len(types)
        outcomes: list = [None] * len(cases)
        batch = []
        for i, case in enumerate(cases):
            if not case["entityId"].strip():
                outcomes[i] = engine_call(client, namespace, case)
                paths["engine"] += 1
            elif types.get(case["flag"]) == FLAG_TYPES[case["kind"]]:
                batch.append(i)
            else:
                outcomes[i] = single_call(client, case)
                paths["single"] += 1
        if batch:
            requests = [
                EvaluationRequest(flag_key=cases[i]["flag"], entity_id=cases[i]["entityId"], context=cases[i]["context"])
                for i in batch
            ]
            responses = client.evaluate_batch(requests).responses
            if len(responses) != len(batch):
                raise SystemExit(f"client_side.py: {namespace}: {len(batch)} requests, {len(responses)} responses")
            for i, response in zip(batch, responses):
                if response.variant_evaluation_response is not None:
                    outcomes[i] = variant_outcome(response.variant_evaluation_response)
                elif response.boolean_evaluation_response is not None:
                    outcomes[i] = boolean_outcome(response.boolean_evaluation_response)
                else:
                    error = response.error_evaluation_response
                    outcomes[i] = error_outcome(error.reason if error else response.type)
            paths["batch"] += len(batch)
        return outcomes
    finally:
        client.close()


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: client_side.py HTTP_URL CASES.json")
    url, cases_path = sys.argv[1], sys.argv[2]
    with open(cases_path, encoding="utf-8") as f:
        spec = json.load(f)
    paths = {"batch": 0, "single": 0, "engine": 0}
    flags: dict = {}
    results = {}
    for entry in spec["namespaces"]:
        results[entry["namespace"]] = evaluate_namespace(url, entry["namespace"], entry["cases"], paths, flags)
    json.dump({"results": results, "paths": paths, "flags": flags}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
