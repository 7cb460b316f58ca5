"""Helpers that build the Flipt dashboards with Grafana's own
dashboards-as-code library (grafana-foundation-sdk: typed builders that
follow Grafana's dashboard schema): panels, Prometheus targets, variables,
annotations, links to Jaeger, and a layout that assigns panel ids and grid
positions. Used by boards.py and services.py; see generate.py.
"""

import json
import urllib.parse

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import heatmap as heatmap_panel
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat as stat_panel
from grafana_foundation_sdk.builders import table as table_panel
from grafana_foundation_sdk.builders import timeseries as timeseries_panel
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import heatmap as heatmap_model
from grafana_foundation_sdk.models import prometheus as prom_model

PROMETHEUS = {"type": "prometheus", "uid": "flipt_prometheus"}
JAEGER = {"type": "jaeger", "uid": "flipt_jaeger"}
PROMETHEUS_REF = model.DataSourceRef(type_val=PROMETHEUS["type"], uid=PROMETHEUS["uid"])

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
        dash.DashboardLink(f"{service} traces (Explore)")
        .type(model.DashboardLinkType.LINK)
        .icon("external link")
        .url(explore_traces(service, ""))
        .target_blank(False)
        .keep_time(False),
        dash.DashboardLink(f"{service} traces (Jaeger UI)")
        .type(model.DashboardLinkType.LINK)
        .icon("external link")
        .url(jaeger_ui(service))
        .target_blank(True),
    ]


def dashboards_link():
    return (
        dash.DashboardLink("Flipt dashboards")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags(["flipt"])
        .as_dropdown(True)
        .include_vars(False)
        .keep_time(True)
    )


def data_links(links):
    """Data links (title, url, optional targetBlank) as the SDK takes them."""
    out = []
    for link in links or []:
        builder = dash.DashboardLink(link["title"]).url(link["url"])
        if link.get("targetBlank"):
            builder = builder.target_blank(True)
        out.append(builder)
    return out


# --------------------------------------------------------------- panels --


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    query = (
        prom.Dataquery()
        .ref_id(ref)
        .datasource(PROMETHEUS_REF)
        .expr(expr)
        .legend_format(legend or "__auto")
        .format(prom_model.PromQueryFormat(fmt))
        .editor_mode(prom_model.QueryEditorMode.CODE)
    )
    return query.instant() if instant else query.range()


def targets(*pairs):
    """Targets from (expr, legend) pairs with refIds A, B, C, ..."""
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(pairs)]


def _thresholds(steps):
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=step["value"], color=step["color"]) for step in steps])
    )


def _value_mappings(mappings):
    """Value mappings given as {"type": "value", "options": {value: {text, color}}}."""
    out = []
    for mapping in mappings or []:
        options = {
            value: model.ValueMappingResult(text=result.get("text"), color=result.get("color"))
            for value, result in mapping["options"].items()
        }
        out.append(model.ValueMap(options=options))
    return out


def _panel(builder, title, description, tgts, w, h):
    """Common panel fields; the size is applied by `layout`."""
    builder = builder.title(title).description(description).datasource(PROMETHEUS_REF)
    for query in tgts:
        builder = builder.with_target(query)
    return (builder, w, h)


def timeseries(title, description, tgts, unit="short", stack=False, bars=False, links=None, w=12, h=8, min_zero=True):
    panel = (
        timeseries_panel.Panel()
        .unit(unit)
        .draw_style(common.GraphDrawStyle.BARS if bars else common.GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(25 if stack or bars else 8)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(
            common_builder.StackingConfig()
            .mode(common.StackingMode.NORMAL if stack else common.StackingMode.NONE)
            .group("A")
        )
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.PALETTE_CLASSIC))
        .legend(
            common_builder.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(
            common_builder.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
    )
    if min_zero:
        panel = panel.axis_soft_min(0)
    if links:
        panel = panel.data_links(data_links(links))
    return _panel(panel, title, description, tgts, w, h)


def stat(title, description, tgts, unit="short", no_value="0", thresholds=None, mappings=None, w=6, h=4, graph=True):
    panel = (
        stat_panel.Panel()
        .unit(unit)
        .no_value(no_value)
        .thresholds(_thresholds(thresholds or [{"color": "blue", "value": None}]))
        .mappings(_value_mappings(mappings))
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .reduce_options(
            common_builder.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)
        )
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA if graph else common.BigValueGraphMode.NONE)
        .text_mode(common.BigValueTextMode.AUTO)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
    )
    return _panel(panel, title, description, tgts, w, h)


def heatmap(title, description, expr, unit, w=12, h=8):
    panel = (
        heatmap_panel.Panel()
        .calculate(False)
        .cell_gap(1)
        .color(
            heatmap_panel.HeatmapColorOptions()
            .mode(heatmap_model.HeatmapColorMode.SCHEME)
            .scheme("Blues")
            .steps(64)
            .exponent(0.5)
            .fill("dark-blue")
            .reverse(False)
        )
        .y_axis(
            heatmap_panel.YAxisConfig()
            .axis_placement(common.AxisPlacement.LEFT)
            .unit(unit)
            .reverse(False)
        )
        .rows_frame(heatmap_panel.RowsHeatmapOptions().layout(common.HeatmapCellLayout.AUTO))
        .show_tooltip()
        .show_y_histogram()
        .show_legend()
        .exemplars_color("rgba(255,0,255,0.7)")
        .filter_values(heatmap_panel.FilterValueRange().le(1e-9))
    )
    return _panel(panel, title, description, [target(expr, "{{le}}", fmt="heatmap")], w, h)


def table(title, description, expr, w=24, h=9, links=None):
    panel = (
        table_panel.Panel()
        .show_header(True)
        .cell_height(common.TableCellHeight.SM)
        .sort_by([common_builder.TableSortByFieldState().display_name("Value").desc(True)])
        .with_transformation(
            model.DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}})
        )
    )
    if links:
        panel = panel.data_links(data_links(links))
    return _panel(panel, title, description, [target(expr, "", instant=True, fmt="table")], w, h)


def row(title):
    return (dash.Row(title), 24, 1)


def layout(panels):
    """Assigns ids and grid positions: panels fill rows of 24 columns left
    to right; a row panel starts a new line. Yields (builder, is_row)."""
    x = y = line_h = 0
    for pid, (builder, w, h) in enumerate(panels, start=1):
        is_row = isinstance(builder, dash.Row)
        if is_row or x + w > 24:
            y += line_h
            x = line_h = 0
        builder = builder.id(pid).grid_pos(model.GridPos(h=h, w=w, x=x, y=y))
        yield builder, is_row
        x += w
        line_h = max(line_h, h)
        if is_row:
            y += h
            x = line_h = 0


# ------------------------------------------------------------ variables --


def query_variable(name, label, query, include_all=True, multi=True):
    var = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS_REF)
        .query({"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1})
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .regex("")
        .hide(model.VariableHide.DONT_HIDE)
        .include_all(include_all)
        .multi(multi)
        .options([])
    )
    if include_all:
        var = var.all_value(".*").current(
            model.VariableOption(selected=True, text=["All"], value=["$__all"])
        )
    return var


def annotation(name, expr, color):
    """A Prometheus annotation: an event wherever `expr` has a sample,
    titled with the series' labels."""
    return (
        dash.AnnotationQuery()
        .name(name)
        .datasource(PROMETHEUS_REF)
        .enable(True)
        .hide(False)
        .icon_color(color)
        .expr(expr)
    )


RELOAD_SUCCESS = annotation(
    "Flag state reloaded",
    f'sum by (instance) (changes(flipt_storage_last_reload_success_timestamp_seconds[{RI}])) > 0',
    "green",
)
def flags_changed(selector=""):
    """Annotation at each change of a namespace's flags (the initial load
    included), from the per-namespace last-change gauge."""
    gauge = "flipt_storage_namespace_last_change_timestamp_seconds"
    if selector:
        gauge += f"{{{selector}}}"
    return annotation(
        "Flags changed",
        f"sum by (namespace) (changes({gauge}[{RI}])) > 0",
        "blue",
    )


RELOAD_FAILURE = annotation(
    "Flag state reload failed",
    f'sum by (instance) (increase(flipt_storage_reloads_total{{result="failure"}}[{RI}])) > 0',
    "red",
)


def dashboard(uid, title, description, panels, variables, links, annotations=(), refresh="10s"):
    board = (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["flipt"])
        .version(1)
        .readonly()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .timezone("browser")
        .refresh(refresh)
        .time("now-30m", "now")
        .fiscal_year_start_month(0)
        .live_now(False)
        .links(links)
        .annotations(list(annotations))
        .variables(variables)
    )
    for builder, is_row in layout(panels):
        board = board.with_row(builder) if is_row else board.with_panel(builder)
    return board.build()


def to_json(board):
    """The dashboard as Grafana's JSON model (what generate.py writes)."""
    return json.dumps(board, cls=JSONEncoder, indent=2, sort_keys=False) + "\n"


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
