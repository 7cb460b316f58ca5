"""Runs a scenario of evaluation calls through Flipt's PyPI server SDK
(`flipt`, REST) and prints what the SDK returned.

    server_sdk.py HTTP_URL SCENARIO.json

The scenario is `{"calls": [call, ...]}` where a call is
`{"name", "op": "boolean" | "variant", "request": {namespaceKey, flagKey,
entityId, context}}` or `{"name", "op": "batch", "requests": [request, ...]}`.
The output is `{"results": [{"name", "ok": response} | {"name", "error":
{"message", "status"}}]}`, each response being the SDK's parsed model dumped
with Flipt's camelCase names, so every field the SDK exposes is shown.

Run by crates/flipt-e2e/tests/it/clients.rs, which compares the output with
the gRPC answers to the same requests.
"""

from __future__ import annotations

import json
import sys

from flipt import FliptClient
from flipt.evaluation.models import BatchEvaluationRequest, EvaluationRequest
from flipt.exceptions import FliptApiError


def sdk_request(request: dict) -> EvaluationRequest:
    """Builds the SDK's request model from a scenario request."""
    return EvaluationRequest(
        namespace_key=request["namespaceKey"],
        flag_key=request["flagKey"],
        entity_id=request["entityId"],
        context=request.get("context", {}),
    )


def run(client: FliptClient, call: dict):
    """Performs one call; returns the SDK's parsed response model."""
    op = call["op"]
    if op == "boolean":
        return client.evaluation.boolean(sdk_request(call["request"]))
    if op == "variant":
        return client.evaluation.variant(sdk_request(call["request"]))
    if op == "batch":
        requests = [sdk_request(r) for r in call["requests"]]
        return client.evaluation.batch(BatchEvaluationRequest(requests=requests))
    raise SystemExit(f"server_sdk.py: unknown op {op!r} in call {call['name']!r}")


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: server_sdk.py HTTP_URL SCENARIO.json")
    url, scenario_path = sys.argv[1], sys.argv[2]
    with open(scenario_path, encoding="utf-8") as f:
        scenario = json.load(f)

    client = FliptClient(url=url, timeout=10)
    results = []
    try:
        for call in scenario["calls"]:
            try:
                response = run(client, call)
            except FliptApiError as err:
                results.append(
                    {"name": call["name"], "error": {"message": err.message, "status": err.status_code}}
                )
                continue
            # Unset oneof members of batch responses are None in the model and
            # absent on the wire; drop them so both read the same.
            dumped = response.model_dump(mode="json", by_alias=True, exclude_none=True)
            results.append({"name": call["name"], "ok": dumped})
    finally:
        client.close()
    json.dump({"results": results}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
