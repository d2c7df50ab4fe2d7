#!/usr/bin/env bash
# Prometheus on 127.0.0.1 with the remote-write receiver on; see lib.sh.
SERVICE_NAME=prometheus
SERVICE_PACKAGE=prometheus
SERVICE_BINARY=prometheus
source "$(dirname "$0")/lib.sh"

service_run() {
  # Tests that need scrape jobs rewrite prometheus.yml in the state dir and POST /-/reload.
  cat >"$STATE/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs: []
YAML
  exec prometheus \
    --config.file="$STATE/prometheus.yml" \
    --storage.tsdb.path="$DATA" \
    --web.listen-address="127.0.0.1:$PORT" \
    --web.enable-remote-write-receiver \
    --web.enable-lifecycle
}

service_ready() {
  http_ok "http://127.0.0.1:$PORT/-/ready"
}

service_main "$@"
