#!/usr/bin/env bash
# VictoriaMetrics single-node on 127.0.0.1 (remote write at /api/v1/write); see lib.sh.
SERVICE_NAME=victoria-metrics
SERVICE_PACKAGE=victoria-metrics
SERVICE_BINARY=victoria-metrics
source "$(dirname "$0")/lib.sh"

service_run() {
  # Queries see samples at once (no 30 s latency offset), so tests can check what they sent.
  exec victoria-metrics \
    -storageDataPath="$DATA" \
    -httpListenAddr="127.0.0.1:$PORT" \
    -search.latencyOffset=0s \
    -search.disableCache \
    -retentionPeriod=100y
}

service_ready() {
  http_ok "http://127.0.0.1:$PORT/health"
}

service_main "$@"
