"""The Services dashboard: the three services side by side. gRPC and the
REST API are shown next to each other: REST calls are also counted in the
`grpc_server_*` families under the RPC they map to (as Flipt's gateway
counts them), and on their own in `http_server_request_duration_seconds`
by route template and status. Then calls between services, the Tokio
runtime and process resources. Query conventions as in boards.py.
"""

from builder import (
    RED_ABOVE,
    RELOAD_SUCCESS,
    RI,
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

CACHE_SERVICE = 'grpc_service="flipt.cache.v1.CacheService"'
EVALUATION_SERVICES = 'grpc_service=~"flipt.evaluation.*"'

S = 'job=~"$service", instance=~"$instance"'
HANDLED = f"grpc_server_handled_total{{{S}}}"
HTTP = "http_server_request_duration_seconds"
# The evaluation API's routes (REST and OFREP), without /metrics and /health.
API_ROUTES = 'http_route=~"/evaluate/.*|/internal/.*|/ofrep/.*"'
HTTP_API = f"{HTTP}_count{{{S}, {API_ROUTES}}}"
HTTP_ERRORS = f'{HTTP}_count{{{S}, {API_ROUTES}, http_response_status_code=~"[45].."}}'


def protocol(selector):
    """rate() of an HTTP count selector with a `protocol` label, REST or
    OFREP, taken from the route."""
    rate = f"rate({selector}[{RI}])"
    rest = f'label_replace({rate}, "protocol", "REST", "http_route", "/(evaluate|internal)/.*")'
    return f'label_replace({rest}, "protocol", "OFREP", "http_route", "/ofrep/.*")'

services = dashboard(
    "flipt-services",
    "Flipt Services",
    "The three services side by side: gRPC requests, errors and latency per "
    "service and method (REST calls included under the RPC they map to), "
    "HTTP requests by route and status, error ratio by protocol, calls "
    "between services, the Tokio runtime and process resources.",
    [
        row("Overview"),
        stat(
            "Targets up",
            "Scraped service instances that answered their last scrape.",
            [target(f"sum(up{{{S}}})")],
            thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 1}],
            graph=False,
        ),
        stat(
            "gRPC requests / s",
            "Finished gRPC calls per second across the selected services.",
            [target(f"sum(rate({HANDLED}[{RI}]))")],
            unit="reqps",
        ),
        stat(
            "gRPC error ratio",
            "Share of gRPC calls that ended with a code other than OK.",
            [
                target(
                    f'sum(rate(grpc_server_handled_total{{{S}, grpc_code!="OK"}}[{RI}]))'
                    f" / (sum(rate({HANDLED}[{RI}])) > 0)"
                )
            ],
            unit="percentunit",
            thresholds=RED_ABOVE(0.05),
        ),
        stat(
            "Uptime",
            "Time since the most recently started selected process.",
            [target(f"time() - max(process_start_time_seconds{{{S}}})")],
            unit="s",
            graph=False,
        ),
        table(
            "Versions",
            "flipt_build_info of each scraped instance.",
            f"max by (job, instance, service, version) (flipt_build_info{{{S}}})",
            h=6,
        ),
        row("gRPC server: per service and method"),
        timeseries(
            "Request rate by method",
            "Finished gRPC calls per second by service and method.",
            targets((f"sum by (job, grpc_method) (rate({HANDLED}[{RI}]))", "{{job}} {{grpc_method}}")),
            unit="reqps",
        ),
        timeseries(
            "Error ratio by method and code",
            "Share of each method's calls that ended with each non-OK code.",
            targets(
                (
                    f'sum by (job, grpc_method, grpc_code) (rate(grpc_server_handled_total{{{S}, grpc_code!="OK"}}[{RI}]))'
                    f" / ignoring (grpc_code) group_left ()"
                    f" (sum by (job, grpc_method) (rate({HANDLED}[{RI}])) > 0)",
                    "{{job}} {{grpc_method}} {{grpc_code}}",
                )
            ),
            unit="percentunit",
        ),
        timeseries(
            "Latency p50 / p95 / p99 by method",
            "Server-side handling time of gRPC calls by service and method.",
            quantiles("grpc_server_handling_seconds_bucket", S, ["job", "grpc_method"], "{{job}} {{grpc_method}}"),
            unit="s",
        ),
        heatmap(
            "Server latency distribution",
            "gRPC calls per handling-time bucket over time, all selected methods.",
            f"sum by (le) (rate(grpc_server_handling_seconds_bucket{{{S}}}[{RI}]))",
            "s",
        ),
        timeseries(
            "In-flight calls",
            "gRPC calls started but not finished, by service.",
            targets(
                (
                    f"sum by (job) (grpc_server_started_total{{{S}}}) - sum by (job) ({HANDLED})",
                    "{{job}}",
                )
            ),
        ),
        row("HTTP: REST and OFREP by route and status"),
        timeseries(
            "HTTP requests by route and status",
            "Requests per second on the HTTP ports by route template and "
            "status code. Paths no route matched share the route _OTHER.",
            targets(
                (
                    f"sum by (job, http_route, http_response_status_code) (rate({HTTP}_count{{{S}}}[{RI}]))",
                    "{{job}} {{http_route}} {{http_response_status_code}}",
                )
            ),
            unit="reqps",
        ),
        timeseries(
            "HTTP latency p50 / p95 / p99 by route",
            "Time to answer HTTP requests by route template (API routes; "
            "scrapes and health probes left out).",
            quantiles(f"{HTTP}_bucket", f"{S}, {API_ROUTES}", ["job", "http_route"], "{{job}} {{http_route}}"),
            unit="s",
        ),
        timeseries(
            "Error ratio by protocol",
            "Share of evaluation API calls that failed, per protocol: REST "
            "and OFREP from the HTTP status (4xx and 5xx), gRPC from the "
            "codes of calls made over gRPC itself (REST calls, which the "
            "gRPC families count too, taken out).",
            [
                target(
                    f"sum by (protocol) ({protocol(HTTP_ERRORS)})"
                    f" / (sum by (protocol) ({protocol(HTTP_API)}) > 0)",
                    "{{protocol}}",
                ),
                target(
                    f'(sum(rate(grpc_server_handled_total{{{S}, {EVALUATION_SERVICES}, grpc_code!="OK"}}[{RI}]))'
                    f" - sum(rate({HTTP_ERRORS}[{RI}])))"
                    f" / ((sum(rate(grpc_server_handled_total{{{S}, {EVALUATION_SERVICES}}}[{RI}]))"
                    f" - sum(rate({HTTP_API}[{RI}]))) > 0)",
                    "gRPC",
                    ref="B",
                ),
            ],
            unit="percentunit",
        ),
        timeseries(
            "Requests by protocol",
            "Evaluation API calls per second: all of them as the gRPC "
            "families count them, and the share that came over HTTP.",
            [
                target(
                    f"sum(rate(grpc_server_handled_total{{{S}, {EVALUATION_SERVICES}}}[{RI}]))",
                    "all (gRPC families)",
                ),
                target(f"sum by (protocol) ({protocol(HTTP_API)})", "{{protocol}}", ref="B"),
            ],
            unit="reqps",
        ),
        row("gRPC client: calls between services"),
        timeseries(
            "Client latency evaluation → cache",
            "p50, p95 and p99 of the cache calls made by the evaluation "
            "service, seen from the caller: network and cache time together.",
            quantiles(
                "grpc_client_handling_seconds_bucket",
                f"{S}, {CACHE_SERVICE}",
                ["job", "grpc_method"],
                "{{job}} → {{grpc_method}}",
            ),
            unit="s",
        ),
        timeseries(
            "Client calls by method and code",
            "Calls to other services per second by method and result code; "
            "Unavailable or DeadlineExceeded point at the callee.",
            targets(
                (
                    f"sum by (job, grpc_service, grpc_method, grpc_code) (rate(grpc_client_handled_total{{{S}}}[{RI}]))",
                    "{{job}} → {{grpc_method}} {{grpc_code}}",
                )
            ),
            unit="reqps",
        ),
        row("Tokio runtime"),
        timeseries(
            "Worker utilisation",
            "Share of time the runtime's worker threads spent running tasks "
            "(1 = every worker busy all the time).",
            targets(
                (
                    f"sum by (job, instance) (rate(tokio_workers_busy_seconds_total{{{S}}}[{RI}]))"
                    f" / (sum by (job, instance) (tokio_workers{{{S}}}) > 0)",
                    "{{job}} {{instance}}",
                )
            ),
            unit="percentunit",
            w=8,
        ),
        timeseries(
            "Alive tasks",
            "Tasks spawned and not finished: connections, requests in "
            "flight and background work.",
            targets((f"tokio_alive_tasks{{{S}}}", "{{job}} {{instance}}")),
            w=8,
        ),
        timeseries(
            "Global queue depth",
            "Tasks waiting in the runtime's shared queue; a growing queue "
            "means the workers cannot keep up.",
            targets((f"tokio_global_queue_depth{{{S}}}", "{{job}} {{instance}}")),
            w=8,
        ),
        row("Process"),
        timeseries(
            "CPU",
            "CPU time per second of each process (1 = one core).",
            targets((f"sum by (job, instance) (rate(process_cpu_seconds_total{{{S}}}[{RI}]))", "{{job}} {{instance}}")),
            unit="percentunit",
            w=8,
        ),
        timeseries(
            "Resident memory",
            "Resident set size of each process.",
            targets((f"process_resident_memory_bytes{{{S}}}", "{{job}} {{instance}}")),
            unit="bytes",
            w=8,
        ),
        timeseries(
            "Open file descriptors",
            "Open file descriptors (sockets included) of each process; the "
            "limit is process_max_fds.",
            targets((f"process_open_fds{{{S}}}", "{{job}} {{instance}}")),
            w=8,
        ),
    ],
    [
        query_variable("service", "Service", "label_values(flipt_build_info, job)"),
        query_variable("instance", "Instance", 'label_values(flipt_build_info{job=~"$service"}, instance)'),
    ],
    [
        dashboards_link(),
        *dashboard_trace_links("flipt-evaluation"),
        *dashboard_trace_links("flipt-cache"),
    ],
    annotations=[flags_changed(), RELOAD_SUCCESS],
)
