"""Evaluates a list of cases through the OpenFeature Python SDK
(`openfeature-sdk`) with two real OFREP providers: Flipt's
(`openfeature-provider-flipt`, namespace as a constructor argument) and the
generic one (`openfeature-provider-ofrep`, namespace in an
`X-Flipt-Namespace` header). Prints what the SDK returned.

    openfeature_providers.py HTTP_URL CASES.json

CASES.json is `{"cases": [case, ...]}` with a case being `{"name",
"namespace", "flag", "type": "boolean" | "string", "default", "targetingKey"
(optional), "context": {...}}`. The output is `{"results": [{"name",
"provider": "flipt" | "ofrep", "value", "variant", "reason", "errorCode",
"errorMessage", "metadata"}, ...]}`, one per case and provider.

Run by crates/flipt-e2e/tests/it/clients/openfeature.rs, which compares the
output with our REST API's answers to the same requests.
"""

from __future__ import annotations

import json
import sys

from openfeature import api
from openfeature.contrib.provider.flipt import FliptProvider
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

# Above the server's cache deadline, so a slow answer shows as the server's
# error rather than as this client giving up.
TIMEOUT_SECONDS = 10.0


def text(value):
    """An enum's value (reasons and error codes are str enums), else as is."""
    return getattr(value, "value", value)


def clients_for(url: str, namespace: str):
    """One OpenFeature client per provider, each bound to its own domain."""
    flipt_domain = f"flipt/{namespace}"
    ofrep_domain = f"ofrep/{namespace}"
    api.set_provider(FliptProvider(base_url=url, namespace=namespace, timeout=TIMEOUT_SECONDS), flipt_domain)
    api.set_provider(
        OFREPProvider(
            base_url=url,
            headers_factory=lambda: {"X-Flipt-Namespace": namespace},
            timeout=TIMEOUT_SECONDS,
        ),
        ofrep_domain,
    )
    return [("flipt", api.get_client(flipt_domain)), ("ofrep", api.get_client(ofrep_domain))]


def evaluate(client, case: dict):
    context = EvaluationContext(targeting_key=case.get("targetingKey"), attributes=case.get("context", {}))
    if case["type"] == "boolean":
        return client.get_boolean_details(case["flag"], case["default"], context)
    if case["type"] == "string":
        return client.get_string_details(case["flag"], case["default"], context)
    raise SystemExit(f"openfeature_providers.py: unknown type {case['type']!r} in {case['name']!r}")


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: openfeature_providers.py HTTP_URL CASES.json")
    url, cases_path = sys.argv[1], sys.argv[2]
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]

    clients = {}
    results = []
    for case in cases:
        namespace = case["namespace"]
        if namespace not in clients:
            clients[namespace] = clients_for(url, namespace)
        for provider, client in clients[namespace]:
            details = evaluate(client, case)
            results.append(
                {
                    "name": case["name"],
                    "provider": provider,
                    "value": details.value,
                    "variant": details.variant,
                    "reason": text(details.reason),
                    "errorCode": text(details.error_code),
                    "errorMessage": details.error_message,
                    "metadata": dict(details.flag_metadata or {}),
                }
            )
    api.shutdown()
    json.dump({"results": results}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
