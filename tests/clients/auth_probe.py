"""Evaluates one variant flag through three Python clients, each with an
optional client token, and prints what each returned or how it failed.

    auth_probe.py HTTP_URL GRPC_TARGET TOKEN NAMESPACE FLAG ENTITY [CA_FILE]

TOKEN `-` means no token. With CA_FILE the servers are reached over TLS
trusting that CA (HTTP_URL is then `https://...`). The clients:

* `server_sdk`: PyPI `flipt` (REST) with `ClientTokenAuthentication`;
  `SSL_CERT_FILE` must name CA_FILE for TLS (httpx reads it);
* `client_side`: PyPI `flipt-client` (snapshot endpoint, native engine)
  with `ClientTokenAuthentication(client_token=...)` and `TlsConfig`;
* `grpc`: `grpcio` with `authorization: Bearer <token>` call metadata.

Output: `{"server_sdk": outcome, "client_side": outcome, "grpc": outcome}`
with outcome `{"ok": {"variantKey", "match"}}` or `{"error": {...}}`.

Run by crates/flipt-e2e/tests/it/security/.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grpc_client import load_stubs  # noqa: E402

TIMEOUT_SECONDS = 10


def server_sdk(url: str, token: str | None, namespace: str, flag: str, entity: str) -> dict:
    from flipt import FliptClient
    from flipt.authentication import ClientTokenAuthentication
    from flipt.evaluation.models import EvaluationRequest
    from flipt.exceptions import FliptApiError

    auth = ClientTokenAuthentication(token) if token else None
    client = FliptClient(url=url, timeout=TIMEOUT_SECONDS, authentication=auth)
    try:
        response = client.evaluation.variant(
            EvaluationRequest(namespace_key=namespace, flag_key=flag, entity_id=entity, context={})
        )
        return {"ok": {"variantKey": response.variant_key, "match": response.match}}
    except FliptApiError as err:
        return {"error": {"status": err.status_code, "message": err.message}}
    finally:
        client.close()


def client_side(url: str, token: str | None, namespace: str, flag: str, entity: str, ca: str | None) -> dict:
    from flipt_client import FliptClient
    from flipt_client.models import ClientOptions, ClientTokenAuthentication, ErrorStrategy, TlsConfig

    options = ClientOptions(
        url=url,
        namespace=namespace,
        error_strategy=ErrorStrategy.FAIL,
        authentication=ClientTokenAuthentication(client_token=token) if token else None,
        tls_config=TlsConfig(ca_cert_file=ca) if ca else None,
    )
    try:
        client = FliptClient(opts=options)
    except Exception as err:  # the SDK raises its own error types from the engine
        return {"error": {"message": str(err)}}
    try:
        response = client.evaluate_variant(flag, entity, {})
        return {"ok": {"variantKey": response.variant_key, "match": response.match}}
    except Exception as err:
        return {"error": {"message": str(err)}}
    finally:
        client.close()


def grpc_call(target: str, token: str | None, namespace: str, flag: str, entity: str, ca: str | None) -> dict:
    with tempfile.TemporaryDirectory() as out:
        try:
            pb, services = load_stubs(Path(out))
            return grpc_variant(pb, services, target, token, namespace, flag, entity, ca)
        finally:
            # The generated `flipt` package shadows the SDK of that name;
            # drop it so the SDKs import their own.
            sys.path.remove(out)
            for name in [m for m in sys.modules if m == "flipt" or m.startswith("flipt.")]:
                del sys.modules[name]


def grpc_variant(pb, services, target, token, namespace, flag, entity, ca) -> dict:
    if ca:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes())
        channel = grpc.secure_channel(target, credentials)
    else:
        channel = grpc.insecure_channel(target)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with channel:
        stub = services.EvaluationServiceStub(channel)
        request = pb.EvaluationRequest(namespace_key=namespace, flag_key=flag, entity_id=entity)
        try:
            response = stub.Variant(request, timeout=TIMEOUT_SECONDS, metadata=metadata)
            return {"ok": {"variantKey": response.variant_key, "match": response.match}}
        except grpc.RpcError as err:
            return {"error": {"code": err.code().name, "message": err.details()}}


def main() -> None:
    if len(sys.argv) not in (7, 8):
        raise SystemExit("usage: auth_probe.py HTTP_URL GRPC_TARGET TOKEN NAMESPACE FLAG ENTITY [CA_FILE]")
    url, target, token, namespace, flag, entity = sys.argv[1:7]
    ca = sys.argv[7] if len(sys.argv) == 8 else None
    token = None if token == "-" else token
    # gRPC first: its generated modules must be gone before the SDKs load.
    grpc_outcome = grpc_call(target, token, namespace, flag, entity, ca)
    result = {
        "server_sdk": server_sdk(url, token, namespace, flag, entity),
        "client_side": client_side(url, token, namespace, flag, entity, ca),
        "grpc": grpc_outcome,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
