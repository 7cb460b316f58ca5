"""Generates the evaluation conformance data set.

Builds random flag state (deterministic for a seed) as Flipt snapshot
documents, evaluates many requests against them with Flipt's own client-side
engine (bundled in the PyPI `flipt-client` package), and writes snapshots,
requests and the engine's answers to crates/flipt-core/tests/data/. The Rust
test `tests/it/conformance.rs` replays every case against flipt-core.

Run through the project venv (see README.md in this directory):

    .venv/bin/python tools/conformance/generate.py
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import NamespaceEngine, SnapshotServer, client_version  # noqa: E402
from flagspace import NamespaceSpace, flag_segments  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "crates/flipt-core/tests/data/conformance.json"
FORMAT_VERSION = 1


def expectation(kind: str, answer: dict) -> dict:
    """The comparable part of one engine answer."""
    if answer.get("status") != "success":
        return {"error": answer.get("error_message") or "unknown error"}
    result = answer["result"]
    # The engine walks a rule's segments in hash-map order, so the key order
    # is not meaningful: store it sorted for stable output.
    keys = sorted(result.get("segment_keys") or [])
    if kind == "variant":
        return {
            "match": result["match"],
            "reason": result["reason"],
            "variantKey": result["variant_key"],
            "variantAttachment": result.get("variant_attachment") or "",
            "segmentKeys": keys,
        }
    return {"enabled": result["enabled"], "reason": result["reason"], "segmentKeys": keys}


class Coverage:
    """Counts what the generated cases exercise."""

    def __init__(self) -> None:
        self.present = collections.Counter()
        self.matched = collections.Counter()
        self.outcomes = collections.Counter()

    def add(self, flag: dict, kind: str, expect: dict) -> None:
        segments = flag_segments(flag)
        pairs = {(c["type"], c["operator"]) for s in segments for c in s["constraints"]}
        self.present.update(pairs)
        matched_keys = set(expect.get("segmentKeys", []))
        self.matched.update({(c["type"], c["operator"]) for s in segments
                             if s["key"] in matched_keys for c in s["constraints"]})
        if "error" in expect:
            self.outcomes[(kind, "error: " + expect["error"].split(":")[0])] += 1
        elif kind == "variant":
            self.outcomes[(kind, expect["reason"], "match" if expect["match"] else "no match")] += 1
        else:
            self.outcomes[(kind, expect["reason"], "true" if expect["enabled"] else "false")] += 1

    def report(self, total: int) -> str:
        lines = [f"{total} cases", "", "cases per comparison type x operator "
                 "(flag contains it / a segment containing it matched):"]
        for pair in sorted(self.present):
            ctype = pair[0].replace("_CONSTRAINT_COMPARISON_TYPE", "")
            lines.append(f"  {ctype:<10} {pair[1] or '(empty)':<12} "
                         f"{self.present[pair]:>6} {self.matched[pair]:>6}")
        lines.append("")
        lines.append("cases per outcome:")
        for outcome, count in sorted(self.outcomes.items()):
            lines.append(f"  {' / '.join(outcome):<60} {count:>6}")
        return "\n".join(lines)


def generate(seed: int, namespaces: int, cases_per_namespace: int) -> tuple[dict, Coverage]:
    rng = random.Random(seed)
    coverage = Coverage()
    server = SnapshotServer()
    snapshots = []
    total = 0
    try:
        for n in range(namespaces):
            namespace = "default" if n == 0 else f"ns-{n:02d}"
            space = NamespaceSpace(rng, namespace)
            snapshot = space.snapshot()
            server.publish(namespace, snapshot)
            engine = NamespaceEngine(server, namespace)
            try:
                if engine.flag_count() != len(space.flags):
                    raise SystemExit(f"engine did not load namespace {namespace}")
                cases = []
                for _ in range(cases_per_namespace):
                    flag = rng.choice(space.flags)
                    kind = "variant" if flag["type"] == "VARIANT_FLAG_TYPE" else "boolean"
                    if rng.random() < 0.01:
                        # Evaluating a flag as the other type is an error.
                        kind = "boolean" if kind == "variant" else "variant"
                    entity_id = space.entity_id()
                    context = space.context(flag)
                    answer = engine.evaluate(kind, flag["key"], entity_id, context)
                    expect = expectation(kind, answer)
                    coverage.add(flag, kind, expect)
                    cases.append({"flag": flag["key"], "kind": kind, "entityId": entity_id,
                                  "context": context, "expect": expect})
            finally:
                engine.close()
            total += len(cases)
            snapshots.append({"namespace": namespace, "snapshot": snapshot, "cases": cases})
    finally:
        server.close()
    meta = {
        "formatVersion": FORMAT_VERSION,
        "generator": "tools/conformance/generate.py",
        "engine": f"PyPI flipt-client {client_version()} (bundled native engine)",
        "seed": seed,
        "namespaces": namespaces,
        "flags": sum(len(s["snapshot"]["flags"]) for s in snapshots),
        "cases": total,
    }
    return {"meta": meta, "snapshots": snapshots}, coverage


def write(data: dict, out: Path) -> None:
    """Compact JSON with one case per line, so diffs stay readable."""
    dump = lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # noqa: E731
    parts = ['{"meta":', dump(data["meta"]), ',\n"snapshots":[\n']
    for i, entry in enumerate(data["snapshots"]):
        parts.append('{"namespace":' + dump(entry["namespace"]) + ',"snapshot":'
                     + dump(entry["snapshot"]) + ',\n"cases":[\n')
        parts.append(",\n".join(dump(case) for case in entry["cases"]))
        parts.append("\n]}" + (",\n" if i + 1 < len(data["snapshots"]) else "\n"))
    parts.append("]}\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20240115)
    parser.add_argument("--namespaces", type=int, default=40)
    parser.add_argument("--cases-per-namespace", type=int, default=300)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    data, coverage = generate(args.seed, args.namespaces, args.cases_per_namespace)
    write(data, args.out)
    print(coverage.report(data["meta"]["cases"]))
    print(f"\nwrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
