"""Helpers that build Grafana dashboard JSON (schema 39, Grafana 11):
panels, targets, variables, annotations, links to Jaeger, and a layout that
assigns panel ids and grid positions. Used by boards.py; see generate.py.
"""

import json
import urllib.parse

PROMETHEUS = {"type": "prometheus", "uid": "flipt_prometheus"}
JAEGER = {"type": "jaeger", "uid": "flipt_jaeger"}
SCHEMA_VERSION = 39

RI = "$__rate_interval"

# ---------------------------------------------------------------- links --


def explore_traces(service, tags):
    """A Grafana Explore URL searching Jaeger for `service` spans with the
    logfmt `tags`; ${...} placeholders are left for Grafana to fill."""
    pane = {
        "traces": {
            "datasource": JAEGER["uid"],
            "queries": [
                {
                    "refId": "A",
                    "datasource": JAEGER,
                    "queryType": "search",
                    "service": service,
                    "tags": tags,
                    "limit": 20,
                }
            ],
            "range": {"from": "${__from}", "to": "${__to}"},
        }
    }
    encoded = urllib.parse.quote(json.dumps(pane, separators=(",", ":")), safe="${}_.:")
    return f"/explore?schemaVersion=1&orgId=1&panes={encoded}"


def jaeger_ui(service, tags=None):
    """A Jaeger UI search URL (the compose stack publishes Jaeger on
    localhost:16686); `tags` is a dict of span attributes."""
    url = f"http://localhost:16686/search?service={service}&limit=20"
    if tags:
        encoded = urllib.parse.quote(json.dumps(tags, separators=(",", ":")), safe="${}_.:")
        url += f"&tags={encoded}"
    return url


def flag_trace_links(ref="__field.labels"):
    """Data links from a series (or table row) with `namespace` and `flag`
    to that flag's evaluation traces. `ref` is how Grafana names the
    values: series labels in graphs, `__data.fields` in tables."""
    ns, flag = f"${{{ref}.namespace}}", f"${{{ref}.flag}}"
    return [
        {
            "title": f"Traces of {ns}/{flag} (Explore)",
            "url": explore_traces("flipt-evaluation", f"flipt.namespace={ns} flipt.flag={flag}"),
        },
        {
            "title": f"Traces of {ns}/{flag} (Jaeger UI)",
            "url": jaeger_ui("flipt-evaluation", {"flipt.namespace": ns, "flipt.flag": flag}),
            "targetBlank": True,
        },
    ]


FLAG_TRACE_LINKS = flag_trace_links()
TABLE_TRACE_LINKS = flag_trace_links("__data.fields")


def dashboard_trace_links(service):
    return [
        {
            "title": f"{service} traces (Explore)",
            "type": "link",
            "icon": "external link",
            "url": explore_traces(service, ""),
            "targetBlank": False,
            "keepTime": False,
        },
        {
            "title": f"{service} traces (Jaeger UI)",
            "type": "link",
            "icon": "external link",
            "url": jaeger_ui(service),
            "targetBlank": True,
        },
    ]


def dashboards_link():
    return {
        "title": "Flipt dashboards",
        "type": "dashboards",
        "tags": ["flipt"],
        "asDropdown": True,
        "includeVars": False,
        "keepTime": True,
    }


# --------------------------------------------------------------- panels --


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    return {
        "refId": ref,
        "datasource": PROMETHEUS,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "format": fmt,
        "editorMode": "code",
    }


def targets(*pairs):
    """Targets from (expr, legend) pairs with refIds A, B, C, ..."""
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def timeseries(title, description, tgts, unit="short", stack=False, bars=False, links=None, w=12, h=8, min_zero=True):
    custom = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 25 if stack or bars else 8,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisSoftMin": 0 if min_zero else None,
    }
    custom = {k: v for k, v in custom.items() if v is not None}
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"}}
    if links:
        defaults["links"] = links
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": tgts,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"showLegend": True, "displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "_size": (w, h),
    }


def stat(title, description, tgts, unit="short", no_value="0", thresholds=None, mappings=None, w=6, h=4, graph=True):
    steps = thresholds or [{"color": "blue", "value": None}]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": tgts,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "noValue": no_value,
                "thresholds": {"mode": "absolute", "steps": steps},
                "mappings": mappings or [],
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area" if graph else "none",
            "textMode": "auto",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "_size": (w, h),
    }


def heatmap(title, description, expr, unit, w=12, h=8):
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": [target(expr, "{{le}}", fmt="heatmap")],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {
            "calculate": False,
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Blues", "steps": 64, "exponent": 0.5, "fill": "dark-blue", "reverse": False},
            "yAxis": {"axisPlacement": "left", "unit": unit, "reverse": False},
            "rowsFrame": {"layout": "auto"},
            "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False},
            "legend": {"show": True},
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
            "filterValues": {"le": 1e-9},
        },
        "_size": (w, h),
    }


def table(title, description, expr, w=24, h=9, links=None):
    defaults = {"custom": {"align": "auto", "filterable": True}}
    if links:
        defaults["links"] = links
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": [target(expr, "", instant=True, fmt="table")],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm", "sortBy": [{"displayName": "Value", "desc": True}]},
        "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        "_size": (w, h),
    }


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_size": (24, 1)}


def layout(panels):
    """Assigns ids and grid positions: panels fill rows of 24 columns left
    to right; a row panel starts a new line."""
    x = y = line_h = 0
    out = []
    for pid, panel in enumerate(panels, start=1):
        w, h = panel.pop("_size")
        if panel["type"] == "row" or x + w > 24:
            y += line_h
            x = line_h = 0
        panel = {"id": pid, "gridPos": {"h": h, "w": w, "x": x, "y": y}, **panel}
        out.append(panel)
        x += w
        line_h = max(line_h, h)
        if panel["type"] == "row":
            y += h
            x = line_h = 0
    return out


# ------------------------------------------------------------ variables --


def query_variable(name, label, query, include_all=True, multi=True):
    var = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": 0,
        "includeAll": include_all,
        "multi": multi,
        "options": [],
    }
    if include_all:
        var["allValue"] = ".*"
        var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return var


def annotation(name, expr, title, color, text="{{instance}}"):
    return {
        "name": name,
        "datasource": PROMETHEUS,
        "enable": True,
        "hide": False,
        "iconColor": color,
        "expr": expr,
        "step": "10s",
        "titleFormat": title,
        "textFormat": text,
        "useValueForTime": False,
    }


BUILTIN_ANNOTATION = {
    "builtIn": 1,
    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True,
    "hide": True,
    "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts",
    "type": "dashboard",
}

RELOAD_SUCCESS = annotation(
    "Flag state reloaded",
    f'sum by (instance) (changes(flipt_storage_last_reload_success_timestamp_seconds[{RI}])) > 0',
    "Flag state reloaded",
    "green",
)
def flags_changed(selector=""):
    """Annotation at each change of a namespace's flags (the initial load
    included), from the per-namespace last-change gauge."""
    gauge = f"flipt_storage_namespace_last_change_timestamp_seconds{{{selector}}}"
    return annotation(
        "Flags changed",
        f"sum by (namespace) (changes({gauge}[{RI}])) > 0",
        "Flags changed",
        "blue",
        text="namespace {{namespace}}",
    )


RELOAD_FAILURE = annotation(
    "Flag state reload failed",
    f'sum by (instance) (increase(flipt_storage_reloads_total{{result="failure"}}[{RI}])) > 0',
    "Flag state reload failed (last good state kept)",
    "red",
)


def dashboard(uid, title, description, panels, variables, links, annotations=(), refresh="10s"):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["flipt"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "refresh": refresh,
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": links,
        "annotations": {"list": [BUILTIN_ANNOTATION, *annotations]},
        "templating": {"list": variables},
        "panels": layout(panels),
    }


QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))

RED_ABOVE = lambda limit: [  # noqa: E731
    {"color": "green", "value": None},
    {"color": "red", "value": limit},
]


def quantiles(bucket, selector, by, legend):
    """p50/p95/p99 targets of a histogram, grouped by `by` (plus le)."""
    group = ", ".join([*by, "le"])
    return targets(
        *(
            (
                f"histogram_quantile({q}, sum by ({group}) (rate({bucket}{{{selector}}}[{RI}])))",
                f"{name} {legend}".strip(),
            )
            for q, name in QUANTILES
        )
    )
