#!/usr/bin/env bash
# VictoriaMetrics single-node on 127.0.0.1 (remote write at /api/v1/write); see lib.sh.
# VM_BASIC_AUTH_USER and VM_BASIC_AUTH_PASSWORD (optional) require basic auth on every API;
# VM_TLS_CERT and VM_TLS_KEY (optional) serve every API over HTTPS.
SERVICE_NAME=victoria-metrics
SERVICE_PACKAGE=victoria-metrics
SERVICE_BINARY=victoria-metrics
source "$(dirname "$0")/lib.sh"

service_run() {
  local auth=()
  if [ -n "${VM_BASIC_AUTH_USER:-}" ]; then
    auth=(-httpAuth.username="$VM_BASIC_AUTH_USER" -httpAuth.password="${VM_BASIC_AUTH_PASSWORD:-}")
  fi
  local tls=()
  if [ -n "${VM_TLS_CERT:-}" ]; then
    tls=(-tls -tlsCertFile="$VM_TLS_CERT" -tlsKeyFile="$VM_TLS_KEY")
    echo https >"$STATE/scheme"
  fi
  # Queries see samples at once (no 30 s latency offset), so tests can check what they sent.
  exec victoria-metrics "${auth[@]}" "${tls[@]}" \
    -storageDataPath="$DATA" \
    -httpListenAddr="127.0.0.1:$PORT" \
    -search.latencyOffset=0s \
    -search.disableCache \
    -retentionPeriod=100y
}

service_ready() {
  http_ok "$(cat "$STATE/scheme" 2>/dev/null || echo http)://127.0.0.1:$PORT/health"
}

service_main "$@"
