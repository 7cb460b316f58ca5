"""Flipt's native client-side evaluation engine, driven from Python.

The PyPI `flipt-client` package bundles Flipt's engine as a shared library.
The engine only loads flag state by fetching a namespace snapshot over HTTP
(a client pointing at an address where nothing listens aborts the whole
process), so `SnapshotServer` serves the generated snapshots from
127.0.0.1 on an ephemeral port, and it is started before any client exists.

Evaluations go through the library's C functions directly rather than the
Python wrappers: the wrappers refuse empty or blank entity ids before the
engine sees them, and those ids are part of what is being compared.
"""

from __future__ import annotations

import ctypes
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata

from flipt_client import FliptClient
from flipt_client.models import ClientOptions, ErrorStrategy

SNAPSHOT_PATH = "/internal/v1/evaluation/snapshot/namespace/"


def client_version() -> str:
    """Version of the installed `flipt-client` package."""
    return metadata.version("flipt-client")


class SnapshotServer:
    """Serves one snapshot document per namespace at Flipt's snapshot path."""

    def __init__(self) -> None:
        self._documents: dict[str, bytes] = {}
        documents = self._documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                path = self.path.split("?", 1)[0]
                body = None
                if path.startswith(SNAPSHOT_PATH):
                    body = documents.get(path[len(SNAPSHOT_PATH) :])
                if body is None:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def publish(self, namespace: str, snapshot: dict) -> None:
        """Makes `snapshot` the document served for `namespace`."""
        self._documents[namespace] = json.dumps(snapshot).encode("utf-8")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class NamespaceEngine:
    """One engine instance holding one namespace's snapshot."""

    def __init__(self, server: SnapshotServer, namespace: str) -> None:
        self.namespace = namespace
        # The first fetch happens inside the constructor, so the snapshot is
        # loaded when this returns. A long update interval keeps background
        # polls out of the way (they would fetch the same document anyway).
        self._client = FliptClient(
            ClientOptions(
                url=server.url,
                namespace=namespace,
                update_interval=timedelta(hours=1),
                error_strategy=ErrorStrategy.FAIL,
            )
        )

    def flag_count(self) -> int:
        """Number of flags the engine loaded (checks the snapshot parsed)."""
        return len(self._client.list_flags())

    def evaluate(self, kind: str, flag_key: str, entity_id: str, context: dict) -> dict:
        """Evaluates one request; returns the engine's `{status, result, error_message}`."""
        request = json.dumps(
            {
                "namespace_key": self.namespace,
                "flag_key": flag_key,
                "entity_id": entity_id,
                "context": context,
            }
        ).encode("utf-8")
        ffi = self._client.ffi_core
        if kind == "variant":
            raw = ffi.evaluate_variant(self._client.engine, request)
        else:
            raw = ffi.evaluate_boolean(self._client.engine, request)
        try:
            text = ctypes.cast(raw, ctypes.c_char_p).value
        finally:
            ffi.destroy_string(raw)
        return json.loads(text)

    def close(self) -> None:
        self._client.close()
