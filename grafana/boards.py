"""The four Flipt dashboards: Evaluations, Services, Cache & Storage and
Telemetry. Metric names and labels are those of DESIGN.md §5 as the
services export them (README, "Observability reference").

Conventions of the queries:
* services are selected by the Prometheus `job` label, which is the service
  name (deploy/prometheus/prometheus.yml); gRPC services also by
  `grpc_service`, which names them on any scrape setup;
* counters go through rate(...[$__rate_interval]); totals over the picked
  time range use increase(...[$__range]) in instant queries;
* ratios divide by a denominator filtered with `> 0`, so an idle system
  shows "no data" instead of NaN; stats say 0 when there is no data.
"""

from builder import (
    FLAG_TRACE_LINKS,
    RED_ABOVE,
    RELOAD_FAILURE,
    RELOAD_SUCCESS,
    RI,
    TABLE_TRACE_LINKS,
    dashboard,
    dashboard_trace_links,
    dashboards_link,
    flags_changed,
    heatmap,
    quantiles,
    query_variable,
    row,
    stat,
    table,
    target,
    targets,
    timeseries,
)

from services import services

EVALUATION_SERVICE = 'grpc_service="flipt.evaluation.EvaluationService"'
CACHE_SERVICE = 'grpc_service="flipt.cache.v1.CacheService"'
TELEMETRY_SERVICE = 'grpc_service="flipt.telemetry.v1.TelemetryReporterService"'

# ----------------------------------------------------------- evaluations --

F = 'namespace=~"$namespace", flag=~"$flag"'
REQUESTS = f"flipt_evaluations_requests_total{{{F}}}"
ERRORS = f"flipt_evaluations_errors_total{{{F}}}"
RESULTS = "flipt_evaluations_results_total"
LATENCY = "flipt_evaluations_latency_milliseconds_bucket"

evaluations = dashboard(
    "flipt-evaluations",
    "Flipt Evaluations",
    "Flag evaluations of the evaluation service: rate per flag, results by "
    "variant, reason and match, errors, and latency. Click a series of a "
    "per-flag panel to find its traces in Jaeger.",
    [
        row("Overview"),
        stat(
            "Evaluations / s",
            "Evaluations of existing flags per second (gRPC and REST; a batch "
            "counts once per flag).",
            [target(f"sum(rate({REQUESTS}[{RI}]))")],
            unit="reqps",
        ),
        stat(
            "Evaluation error ratio",
            "Share of evaluations of existing flags that failed, e.g. a "
            "boolean evaluation of a variant flag.",
            [target(f"sum(rate({ERRORS}[{RI}])) / (sum(rate({REQUESTS}[{RI}])) > 0)")],
            unit="percentunit",
            thresholds=RED_ABOVE(0.01),
        ),
        stat(
            "Flag not found (gRPC) / s",
            "gRPC evaluations answered NotFound: the flag or namespace does "
            "not exist. Unknown keys are not flag labels, so they appear only "
            "here and in the gRPC panels.",
            [target(f'sum(rate(grpc_server_handled_total{{{EVALUATION_SERVICE}, grpc_code="NotFound"}}[{RI}]))')],
            unit="reqps",
            thresholds=RED_ABOVE(1),
        ),
        stat(
            "p99 evaluation latency",
            "99th percentile of the time to evaluate one flag, cache lookup included.",
            [target(f"histogram_quantile(0.99, sum by (le) (rate({LATENCY}{{{F}}}[{RI}])))")],
            unit="ms",
        ),
        row("Per flag"),
        timeseries(
            "Evaluations by flag",
            "Evaluations per second of each flag.",
            targets((f"sum by (namespace, flag) (rate({REQUESTS}[{RI}]))", "{{namespace}}/{{flag}}")),
            unit="reqps",
            links=FLAG_TRACE_LINKS,
        ),
        timeseries(
            "Evaluation errors by flag",
            "Failed evaluations per second of existing flags (the evaluation "
            "of the other flag type was asked for).",
            targets((f"sum by (namespace, flag) (rate({ERRORS}[{RI}]))", "{{namespace}}/{{flag}}")),
            unit="reqps",
            links=FLAG_TRACE_LINKS,
        ),
        timeseries(
            "Results by variant",
            "Results per second by flag and value: the variant key of variant "
            "flags (empty when no rule matched), true/false for boolean flags.",
            targets(
                (
                    f"sum by (namespace, flag, value) (rate({RESULTS}{{{F}}}[{RI}]))",
                    "{{namespace}}/{{flag}} = {{value}}",
                )
            ),
            unit="reqps",
            stack=True,
            links=FLAG_TRACE_LINKS,
        ),
        timeseries(
            "Results by reason",
            "Why results were given: MATCH, DEFAULT, FLAG_DISABLED, UNKNOWN.",
            targets((f"sum by (reason) (rate({RESULTS}{{{F}}}[{RI}]))", "{{reason}}")),
            unit="reqps",
            stack=True,
        ),
        timeseries(
            "Match ratio by flag",
            "Share of results where a rule (variant) or rollout (boolean) matched.",
            targets(
                (
                    f'sum by (namespace, flag) (rate({RESULTS}{{{F}, match="true"}}[{RI}]))'
                    f" / (sum by (namespace, flag) (rate({RESULTS}{{{F}}}[{RI}])) > 0)",
                    "{{namespace}}/{{flag}}",
                )
            ),
            unit="percentunit",
            links=FLAG_TRACE_LINKS,
        ),
        timeseries(
            "Matches by segment",
            "Results per second by the first matched segment.",
            targets((f'sum by (segment) (rate({RESULTS}{{{F}, segment!=""}}[{RI}]))', "{{segment}}")),
            unit="reqps",
            stack=True,
        ),
        table(
            "Results in the selected range",
            "Evaluation results over the dashboard's time range by every label.",
            f"sum by (namespace, flag, type, match, reason, segment, value) (increase({RESULTS}{{{F}}}[$__range])) > 0",
            links=TABLE_TRACE_LINKS,
        ),
        row("Latency"),
        timeseries(
            "Evaluation latency",
            "p50, p95 and p99 of the time to evaluate one flag, cache lookup included.",
            quantiles(LATENCY, F, [], ""),
            unit="ms",
        ),
        timeseries(
            "p99 latency by flag",
            "99th percentile evaluation latency of each flag.",
            targets(
                (
                    f"histogram_quantile(0.99, sum by (namespace, flag, le) (rate({LATENCY}{{{F}}}[{RI}])))",
                    "{{namespace}}/{{flag}}",
                )
            ),
            unit="ms",
            links=FLAG_TRACE_LINKS,
        ),
        heatmap(
            "Evaluation latency distribution",
            "Evaluations per latency bucket over time (sub-millisecond buckets).",
            f"sum by (le) (rate({LATENCY}{{{F}}}[{RI}]))",
            "ms",
        ),
        timeseries(
            "gRPC evaluation calls by method and code",
            "EvaluationService calls per second; NotFound is an unknown flag "
            "or namespace, InvalidArgument a bad request or the wrong flag type.",
            targets(
                (
                    f"sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{{{EVALUATION_SERVICE}}}[{RI}]))",
                    "{{grpc_method}} {{grpc_code}}",
                )
            ),
            unit="reqps",
        ),
    ],
    [
        query_variable("namespace", "Namespace", "label_values(flipt_evaluations_requests_total, namespace)"),
        query_variable(
            "flag",
            "Flag",
            'label_values(flipt_evaluations_requests_total{namespace=~"$namespace"}, flag)',
        ),
    ],
    [dashboards_link(), *dashboard_trace_links("flipt-evaluation")],
    annotations=[flags_changed('namespace=~"$namespace"'), RELOAD_SUCCESS, RELOAD_FAILURE],
)

# -------------------------------------------------------- cache, storage --

C = 'instance=~"$instance", cache=~"$cache"'
I = 'instance=~"$instance"'  # noqa: E741
HITS = f"flipt_cache_hit_total{{{C}}}"
MISSES = f"flipt_cache_miss_total{{{C}}}"

cache = dashboard(
    "flipt-cache",
    "Flipt Cache & Storage",
    "The cache service: hit ratio of the cache backend by entry type, "
    "backend errors and size, and the flag state it loads from storage.",
    [
        row("Cache"),
        stat(
            "Hit ratio",
            "Share of cache lookups answered from the backend.",
            [
                target(
                    f"sum(rate({HITS}[{RI}]))"
                    f" / ((sum(rate({HITS}[{RI}])) + sum(rate({MISSES}[{RI}]))) > 0)"
                )
            ],
            unit="percentunit",
            no_value="no lookups",
            thresholds=[{"color": "orange", "value": None}, {"color": "green", "value": 0.8}],
        ),
        stat(
            "Lookups / s",
            "Cache lookups per second (hits and misses).",
            [target(f"sum(rate({HITS}[{RI}])) + sum(rate({MISSES}[{RI}]))")],
            unit="reqps",
        ),
        stat(
            "Backend errors (range)",
            "Failed reads or writes of the cache backend over the time range; "
            "the service then answers from storage.",
            [target(f"sum(increase(flipt_cache_error_total{{{C}}}[$__range]))", instant=True)],
            thresholds=RED_ABOVE(1),
            graph=False,
        ),
        stat(
            "Entries",
            "Entries held by the cache backend.",
            [target(f"sum(flipt_cache_entries{{{C}}})")],
        ),
        timeseries(
            "Hit ratio by cache and type",
            "Share of lookups answered from the cache, per backend and entry "
            "type (flag: per-flag state; snapshot: namespace snapshot).",
            targets(
                (
                    f"sum by (cache, type) (rate({HITS}[{RI}]))"
                    f" / ((sum by (cache, type) (rate({HITS}[{RI}])) + sum by (cache, type) (rate({MISSES}[{RI}]))) > 0)",
                    "{{cache}} {{type}}",
                )
            ),
            unit="percentunit",
        ),
        timeseries(
            "Hits and misses",
            "Lookups per second by result, backend and entry type.",
            targets(
                (f"sum by (cache, type) (rate({HITS}[{RI}]))", "hit {{cache}} {{type}}"),
                (f"sum by (cache, type) (rate({MISSES}[{RI}]))", "miss {{cache}} {{type}}"),
            ),
            unit="reqps",
        ),
        timeseries(
            "Backend errors",
            "Failed backend reads or writes per second.",
            targets((f"sum by (instance, cache) (rate(flipt_cache_error_total{{{C}}}[{RI}]))", "{{instance}} {{cache}}")),
            unit="reqps",
        ),
        timeseries(
            "Entries",
            "Entries held by the cache backend.",
            targets((f"sum by (instance, cache) (flipt_cache_entries{{{C}}})", "{{instance}} {{cache}}")),
        ),
        row("Storage"),
        stat(
            "Flags loaded",
            "Flags in the flag state being served.",
            [target(f"max(flipt_storage_flags_loaded{{{I}}})")],
            graph=False,
        ),
        stat(
            "Last reload",
            "Time since the flag state was last loaded successfully. Loads "
            "happen on start and when the flag files change.",
            [target(f"time() - max(flipt_storage_last_reload_success_timestamp_seconds{{{I}}} > 0)")],
            unit="s",
            no_value="never",
            graph=False,
        ),
        stat(
            "Failed reloads (range)",
            "Loads rejected over the time range (invalid flag files). The "
            "last good state keeps being served; the cache log names file and line.",
            [target(f'sum(increase(flipt_storage_reloads_total{{{I}, result="failure"}}[$__range]))', instant=True)],
            thresholds=RED_ABOVE(1),
            graph=False,
        ),
        stat(
            "Successful reloads (range)",
            "Loads accepted over the time range, the initial load included.",
            [target(f'sum(increase(flipt_storage_reloads_total{{{I}, result="success"}}[$__range]))', instant=True)],
            graph=False,
        ),
        timeseries(
            "Reloads by result",
            "Flag state loads by result.",
            targets((f"sum by (result) (increase(flipt_storage_reloads_total{{{I}}}[{RI}]))", "{{result}}")),
            bars=True,
        ),
        timeseries(
            "Flags loaded",
            "Flags in the flag state being served, per instance.",
            targets((f"flipt_storage_flags_loaded{{{I}}}", "{{instance}}")),
        ),
        row("Cache service API"),
        timeseries(
            "Cache API calls by method and code",
            "CacheService calls per second; NotFound is an unknown flag or namespace.",
            targets(
                (
                    f"sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{{{I}, {CACHE_SERVICE}}}[{RI}]))",
                    "{{grpc_method}} {{grpc_code}}",
                )
            ),
            unit="reqps",
        ),
        timeseries(
            "Cache API latency p99 by method",
            "99th percentile handling time of CacheService calls.",
            targets(
                (
                    f"histogram_quantile(0.99, sum by (grpc_method, le) (rate(grpc_server_handling_seconds_bucket{{{I}, {CACHE_SERVICE}}}[{RI}])))",
                    "{{grpc_method}}",
                )
            ),
            unit="s",
        ),
    ],
    [
        query_variable("instance", "Instance", "label_values(flipt_storage_flags_loaded, instance)"),
        query_variable("cache", "Cache backend", 'label_values(flipt_cache_hit_total{instance=~"$instance"}, cache)'),
    ],
    [dashboards_link(), *dashboard_trace_links("flipt-cache")],
    annotations=[RELOAD_SUCCESS, RELOAD_FAILURE],
)

# ------------------------------------------------------------- telemetry --

T = 'instance=~"$instance"'

telemetry = dashboard(
    "flipt-telemetry",
    "Flipt Telemetry",
    "The telemetry reporter: usage reports from the services and the "
    "anonymous flipt.ping it sends (or skips after an opt-out).",
    [
        row("Pings"),
        stat(
            "Telemetry",
            "Whether pings are enabled (FLIPT_TELEMETRY_ENABLED, DO_NOT_TRACK).",
            [target(f"max(flipt_telemetry_enabled{{{T}}})")],
            mappings=[
                {
                    "type": "value",
                    "options": {
                        "0": {"text": "opted out", "color": "blue"},
                        "1": {"text": "enabled", "color": "green"},
                    },
                }
            ],
            no_value="not running",
            graph=False,
        ),
        stat(
            "Last ping sent",
            "Time since the endpoint last accepted a ping.",
            [target(f"time() - max(flipt_telemetry_last_success_timestamp_seconds{{{T}}} > 0)")],
            unit="s",
            no_value="never",
            graph=False,
        ),
        stat(
            "Pings sent / failed (range)",
            "Pings over the time range by result.",
            [
                target(
                    f'sum by (result) (increase(flipt_telemetry_pings_total{{{T}, result=~"sent|failed"}}[$__range]))',
                    "{{result}}",
                    instant=True,
                )
            ],
            graph=False,
        ),
        stat(
            "Ping retries (range)",
            "HTTP attempts beyond the first over the time range.",
            [target(f"sum(increase(flipt_telemetry_ping_retries_total{{{T}}}[$__range]))", instant=True)],
            thresholds=RED_ABOVE(1),
            graph=False,
        ),
        timeseries(
            "Pings by result",
            "Pings since the reporter started, by result: sent, failed "
            "(every attempt failed) or skipped (opted out, nowhere to send).",
            targets((f"sum by (result) (flipt_telemetry_pings_total{{{T}}})", "{{result}}")),
            w=12,
        ),
        timeseries(
            "Reports received by service",
            "Usage reports received since the reporter started, by reporting service.",
            targets((f"sum by (service) (flipt_telemetry_reports_received_total{{{T}}})", "{{service}}")),
            w=12,
        ),
        row("Reporter API"),
        timeseries(
            "Reporter calls by method and code",
            "TelemetryReporterService calls per second.",
            targets(
                (
                    f"sum by (grpc_method, grpc_code) (rate(grpc_server_handled_total{{{T}, {TELEMETRY_SERVICE}}}[{RI}]))",
                    "{{grpc_method}} {{grpc_code}}",
                )
            ),
            unit="reqps",
            w=24,
        ),
    ],
    [query_variable("instance", "Instance", "label_values(flipt_telemetry_enabled, instance)")],
    [dashboards_link(), *dashboard_trace_links("flipt-telemetry-reporter")],
    refresh="1m",
)

DASHBOARDS = {
    "flipt-evaluations": evaluations,
    "flipt-services": services,
    "flipt-cache": cache,
    "flipt-telemetry": telemetry,
}
