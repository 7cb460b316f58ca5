"""Random but meaningful flag state and evaluation requests.

Everything is drawn from one `random.Random`, so a seed fixes the output.
Value pools are chosen around the edges of constraint matching: exact and
near-miss values, padding and case changes, unparsable numbers, booleans and
datetimes, malformed JSON arrays, missing properties. Context values are drawn
partly from the constraint values a namespace actually uses, so a good share
of requests match a segment.
"""

from __future__ import annotations

import json
import random

STRING = "STRING_CONSTRAINT_COMPARISON_TYPE"
NUMBER = "NUMBER_CONSTRAINT_COMPARISON_TYPE"
BOOLEAN = "BOOLEAN_CONSTRAINT_COMPARISON_TYPE"
DATETIME = "DATETIME_CONSTRAINT_COMPARISON_TYPE"
ENTITY_ID = "ENTITY_ID_CONSTRAINT_COMPARISON_TYPE"
UNKNOWN_TYPES = ["UNKNOWN_CONSTRAINT_COMPARISON_TYPE", "REGEX_CONSTRAINT_COMPARISON_TYPE"]

ALL_OPERATORS = [
    "eq", "neq", "lt", "lte", "gt", "gte", "empty", "notempty", "true", "false",
    "present", "notpresent", "prefix", "suffix", "isoneof", "isnotoneof",
    "contains", "notcontains",
]
# Names outside Flipt's set (operators are matched exactly, case included).
ODD_OPERATORS = ["EQ", "startswith", "", "in"]

# Operators Flipt accepts for each type when flag state is written.
VALID_OPERATORS = {
    STRING: ["eq", "neq", "empty", "notempty", "prefix", "suffix", "isoneof",
             "isnotoneof", "contains", "notcontains"],
    NUMBER: ["eq", "neq", "lt", "lte", "gt", "gte", "present", "notpresent",
             "isoneof", "isnotoneof"],
    BOOLEAN: ["true", "false", "present", "notpresent"],
    DATETIME: ["eq", "neq", "lt", "lte", "gt", "gte", "present", "notpresent",
               "isoneof", "isnotoneof"],
    ENTITY_ID: ["eq", "neq", "isoneof", "isnotoneof", "contains", "notcontains"],
}
TYPE_WEIGHTS = {STRING: 30, NUMBER: 25, BOOLEAN: 12, DATETIME: 20, ENTITY_ID: 13}
NO_VALUE_OPERATORS = {"empty", "notempty", "true", "false", "present", "notpresent"}
LIST_OPERATORS = {"isoneof", "isnotoneof"}

PROPERTIES = {
    STRING: ["plan", "email", "country"],
    NUMBER: ["age", "score"],
    BOOLEAN: ["beta", "admin"],
    DATETIME: ["signup", "renewal"],
}
MISSING_PROPERTY = "never-sent"

CONSTRAINT_VALUES = {
    STRING: ["gold", "silver", "bronze", "", "  ", "Gold", "gold ", "go", "ld",
             "@example.com", "user", "ü", "日本", "a b"],
    NUMBER: ["42", "0", "-1", "3.5", "1e3", "1000", " 42 ", "abc", "", "42.0",
             "1e-2", "-0", "NaN", "inf", "+7", "0x1A", "9007199254740993"],
    BOOLEAN: ["", "", "", "true", "false"],
    DATETIME: ["2024-01-15T10:00:00Z", "2024-01-15", "2024-01-15T12:00:00+02:00",
               "2024-01-15T10:00:00.250Z", "2024-01-15T10:00:00.123456789-05:30",
               "2023-12-31T23:59:59Z", "2024-01-16", "not-a-date", "",
               "2024-01-15T10:00:00", "2024-01-15 10:00:00Z", "2024-02-30"],
    ENTITY_ID: ["alice", "user-42", "user", "example.com", "", "Alice", "42"],
}
LIST_VALUES = {
    STRING: ['["gold","silver"]', '["bronze"]', "[]", '["gold", "Gold"]', '["gold",',
             "gold", "[1, 2]", '["", "gold"]', '["gold" , "platinum"]', '{"a":1}',
             "[null]", '["gold",null]', '["user@example.com","日本語"]'],
    NUMBER: ["[42, 1000]", "[3.5]", "[0, -1]", "[1e3]", "[]", '["42"]', "[42,", "42",
             "[42.0, 7]", "[1, 2, 3]", "[-0]", "[9007199254740993]"],
    DATETIME: ['["2024-01-15T10:00:00Z"]', '["2024-01-15"]', "[]", "[1, 2]", "[,"],
    ENTITY_ID: ['["alice","bob"]', '["user-42"]', '["alice",', "[]", '["", "alice"]',
                "[42]", '["ü-ñ-日本"]'],
}
CONTEXT_VALUES = {
    STRING: ["gold", "silver", "bronze", "platinum", "Gold", " gold", "gold ", "golden",
             "", "   ", "\t", "user@example.com", "admin@example.org", "ü-user",
             "日本語", "a b c", "\u00a0gold"],
    NUMBER: ["42", "42.0", "41", "43", "3.5", "3.4999", "1000", "1e3", "0", "-0", "-1",
             "-1.5", " 42 ", "42 ", "abc", "", "NaN", "+7", "0.01", "1_000",
             "9007199254740993", "1.0e3", "0x1A", "Infinity"],
    BOOLEAN: ["true", "false", "True", "FALSE", "1", "0", "t", "F", "yes", "no", "",
              " true", "tRuE"],
    DATETIME: ["2024-01-15T10:00:00Z", "2024-01-15T10:00:00.000Z", "2024-01-15T09:59:59Z",
               "2024-01-15T10:00:01Z", "2024-01-15T00:00:00Z", "2024-01-15", "2024-01-14",
               "2024-01-16", "2024-01-15T12:00:00+02:00", "2024-01-15T10:00:00.250Z",
               "2024-01-15T15:30:00.123456789Z", "2025-06-01T00:00:00Z",
               "1999-12-31T23:59:59.999999999Z", "2024-01-15t10:00:00z", "1705312800",
               "", "garbage", "2024-01-15T10:00:00+00:00"],
}
ENTITY_IDS = ["alice", "bob", "Alice", "user-42", "user@example.com", "gold", "", "  ",
              "ü-ñ-日本", "00000", "entity with space", "42"]

ROLLOUT_SINGLES = [100, 100, 50, 0, 33.33, 99.9, 12.5, 0.1]
THRESHOLDS = [0, 100, 50, 33.33, 12.5, 99.99, 0.01, 66.6]
VARIANT_KEYS = ["control", "treatment", "blue", "green", "v-ü", "off"]
ATTACHMENTS = ['{"color":"red","size":3}', '{"nested":{"list":[1,2,3]},"ok":true}',
               "[1,2]", '{"unicode":"ü日本"}', "{}"]


def weighted(rng: random.Random, table: dict):
    """Picks a key of `table` with probability proportional to its value."""
    keys = list(table)
    return rng.choices(keys, weights=[table[k] for k in keys])[0]


class NamespaceSpace:
    """Generates one namespace: a segment pool, flags, and requests for them."""

    def __init__(self, rng: random.Random, namespace: str) -> None:
        self.rng = rng
        self.namespace = namespace
        # Values the namespace's constraints compare against, per property,
        # so that contexts can hit them.
        self.used_values: dict[str, list[str]] = {}
        self.used_entity_ids: list[str] = []
        self.segments = [self._segment(i) for i in range(rng.randint(8, 14))]
        self.flags = []
        for i in range(rng.randint(8, 14)):
            if rng.random() < 0.58:
                self.flags.append(self._variant_flag(i))
            else:
                self.flags.append(self._boolean_flag(i))

    def snapshot(self) -> dict:
        """The namespace as a snapshot document (camelCase JSON)."""
        return {"namespace": {"key": self.namespace}, "flags": self.flags}

    # -- constraints and segments -------------------------------------------

    def _remember(self, ctype: str, prop: str, value: str, operator: str) -> None:
        if operator in NO_VALUE_OPERATORS:
            return
        values = [value]
        if operator in LIST_OPERATORS:
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            values = parsed if isinstance(parsed, list) else []
            values = [v if isinstance(v, str) else json.dumps(v) for v in values if v is not None]
        if ctype == ENTITY_ID:
            self.used_entity_ids.extend(values)
        else:
            self.used_values.setdefault(prop, []).extend(values)

    def _constraint(self) -> dict:
        rng = self.rng
        if rng.random() < 0.012:
            ctype = rng.choice(UNKNOWN_TYPES)
            return {"type": ctype, "property": "plan", "operator": "eq", "value": "gold"}
        ctype = weighted(rng, TYPE_WEIGHTS)
        roll = rng.random()
        if roll < 0.84:
            operator = rng.choice(VALID_OPERATORS[ctype])
        elif roll < 0.97:
            operator = rng.choice(ALL_OPERATORS)
        else:
            operator = rng.choice(ODD_OPERATORS)

        if ctype == ENTITY_ID:
            prop = "entityId" if rng.random() < 0.9 else rng.choice(PROPERTIES[STRING])
        else:
            roll = rng.random()
            if roll < 0.86:
                prop = rng.choice(PROPERTIES[ctype])
            elif roll < 0.95:
                other = rng.choice([t for t in PROPERTIES if t != ctype])
                prop = rng.choice(PROPERTIES[other])
            else:
                prop = MISSING_PROPERTY

        if operator in NO_VALUE_OPERATORS:
            value = "" if rng.random() < 0.85 else rng.choice(CONSTRAINT_VALUES[STRING])
        elif operator in LIST_OPERATORS:
            pool = LIST_VALUES.get(ctype, LIST_VALUES[STRING])
            value = rng.choice(pool)
        else:
            value = rng.choice(CONSTRAINT_VALUES[ctype])
        self._remember(ctype, prop, value, operator)
        return {"type": ctype, "property": prop, "operator": operator, "value": value}

    def _segment(self, index: int) -> dict:
        rng = self.rng
        key = f"seg-{index}" if rng.random() < 0.9 else f"segmént-{index}"
        count = weighted(rng, {0: 8, 1: 45, 2: 32, 3: 15})
        match_type = "ALL_SEGMENT_MATCH_TYPE" if rng.random() < 0.55 else "ANY_SEGMENT_MATCH_TYPE"
        return {
            "key": key,
            "matchType": match_type,
            "constraints": [self._constraint() for _ in range(count)],
        }

    def _pick_segments(self, weights: dict) -> list:
        count = min(weighted(self.rng, weights), len(self.segments))
        return self.rng.sample(self.segments, count)

    # -- flags ----------------------------------------------------------------

    def _flag_key(self, index: int, kind: str) -> str:
        roll = self.rng.random()
        if roll < 0.8:
            return f"{kind}-flag-{index}"
        if roll < 0.93:
            return f"checkout.{kind}_{index}-new"
        return f"fläg-{kind}-{index}"

    def _rollouts(self, count: int) -> list:
        """Distribution rollouts; often not summing to 100 on purpose."""
        rng = self.rng
        if count == 0:
            return []
        if count == 1:
            return [rng.choice(ROLLOUT_SINGLES + [round(rng.uniform(0, 100), 2)])]
        scheme = weighted(rng, {"sum100": 30, "thirds": 10, "random": 25, "zeros": 12,
                                "allzero": 5, "under": 10, "over": 8})
        if scheme == "sum100":
            cuts = sorted(rng.randint(0, 100) for _ in range(count - 1))
            edges = [0] + cuts + [100]
            return [edges[i + 1] - edges[i] for i in range(count)]
        if scheme == "thirds":
            base = [33.33] * count
            base[rng.randrange(count)] = 33.34
            return base
        if scheme == "random":
            return [round(rng.uniform(0, 100), rng.choice([0, 1, 2])) for _ in range(count)]
        if scheme == "zeros":
            values = [round(rng.uniform(1, 60), 2) for _ in range(count)]
            for i in rng.sample(range(count), rng.randint(1, count - 1)):
                values[i] = 0
            return values
        if scheme == "allzero":
            return [0] * count
        if scheme == "under":
            return [round(rng.uniform(1, 80 / count), 2) for _ in range(count)]
        return [round(rng.uniform(50, 90), 1) for _ in range(count)]

    def _variant_flag(self, index: int) -> dict:
        rng = self.rng
        key = self._flag_key(index, "variant")
        variants = []
        for vkey in rng.sample(VARIANT_KEYS, rng.randint(1, 4)):
            variants.append((vkey, rng.choice(ATTACHMENTS) if rng.random() < 0.5 else None))
        rules = []
        for _ in range(weighted(rng, {0: 8, 1: 32, 2: 30, 3: 18, 4: 12})):
            count = min(weighted(rng, {0: 12, 1: 30, 2: 30, 3: 16, 4: 12}), len(variants))
            chosen = rng.sample(variants, count)
            distributions = []
            for (vkey, attachment), rollout in zip(chosen, self._rollouts(count)):
                dist = {"variantKey": vkey, "rollout": rollout}
                if attachment is not None:
                    dist["variantAttachment"] = attachment
                distributions.append(dist)
            rules.append({
                "distributions": distributions,
                "segments": self._pick_segments({0: 4, 1: 60, 2: 26, 3: 10}),
                "segmentOperator": "OR_SEGMENT_OPERATOR" if rng.random() < 0.65
                else "AND_SEGMENT_OPERATOR",
            })
        flag = {
            "key": key,
            "name": key.replace("-", " "),
            "type": "VARIANT_FLAG_TYPE",
            "enabled": rng.random() < 0.85,
            "rules": rules,
            "rollouts": [],
        }
        if rng.random() < 0.4:
            vkey, attachment = rng.choice(variants)
            default = {"id": f"{key}/{vkey}", "key": vkey}
            if attachment is not None:
                default["attachment"] = attachment
            flag["defaultVariant"] = default
        return flag

    def _boolean_flag(self, index: int) -> dict:
        rng = self.rng
        key = self._flag_key(index, "boolean")
        rollouts = []
        for _ in range(weighted(rng, {0: 8, 1: 30, 2: 32, 3: 20, 4: 10})):
            if rng.random() < 0.42:
                percentage = rng.choice(THRESHOLDS + [round(rng.uniform(0, 100), 2),
                                                      rng.randint(0, 100)])
                rollout = {"threshold": {"percentage": percentage, "value": rng.random() < 0.5}}
            else:
                segment = {"value": rng.random() < 0.5,
                           "segments": self._pick_segments({0: 3, 1: 60, 2: 27, 3: 10})}
                roll = rng.random()
                if roll < 0.6:
                    segment["segmentOperator"] = "OR_SEGMENT_OPERATOR"
                elif roll < 0.9:
                    segment["segmentOperator"] = "AND_SEGMENT_OPERATOR"
                rollout = {"segment": segment}
            if rng.random() < 0.2:
                rollout["description"] = "rollout for testing"
            rollouts.append(rollout)
        flag = {
            "key": key,
            "name": key,
            "type": "BOOLEAN_FLAG_TYPE",
            "enabled": rng.random() < 0.5,
            "rules": [],
            "rollouts": rollouts,
        }
        if rng.random() < 0.3:
            flag["description"] = "a boolean flag"
        return flag

    # -- requests -------------------------------------------------------------

    def entity_id(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3 and self.used_entity_ids:
            return rng.choice(self.used_entity_ids)
        if roll < 0.45:
            return rng.choice(ENTITY_IDS)
        if roll < 0.8:
            return f"user-{rng.randrange(1_000_000)}"
        return "%032x" % rng.getrandbits(128)

    def context(self, flag: dict) -> dict:
        """A context for evaluating `flag`: mostly the properties it reads."""
        rng = self.rng
        wanted = set()
        for segment in flag_segments(flag):
            wanted.update(c["property"] for c in segment["constraints"])
        context = {}
        for ctype, props in PROPERTIES.items():
            for prop in props:
                if rng.random() >= (0.85 if prop in wanted else 0.08):
                    continue
                used = self.used_values.get(prop)
                if used and rng.random() < 0.45:
                    context[prop] = rng.choice(used)
                else:
                    context[prop] = rng.choice(CONTEXT_VALUES[ctype])
        if rng.random() < 0.05:
            context["unrelated"] = "x"
        return context


def flag_segments(flag: dict) -> list:
    """Every segment a flag's rules or rollouts refer to (with repeats)."""
    segments = []
    for rule in flag["rules"]:
        segments.extend(rule["segments"])
    for rollout in flag["rollouts"]:
        segments.extend((rollout.get("segment") or {}).get("segments", []))
    return segments
