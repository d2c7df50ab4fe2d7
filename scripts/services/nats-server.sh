#!/usr/bin/env bash
# nats-server with JetStream (file storage in the state dir, so it survives a restart) on
# 127.0.0.1; see lib.sh. NATS_TLS_CERT and NATS_TLS_KEY (optional) serve clients over TLS;
# NATS_TLS_CA also requires client certificates that CA signed.
SERVICE_NAME=nats-server
SERVICE_PACKAGE=nats-server
SERVICE_BINARY=nats-server
source "$(dirname "$0")/lib.sh"

service_run() {
  # The monitoring port answers /healthz once JetStream is up.
  local monitor_port
  monitor_port="$(free_port "$PORT")"
  echo "$monitor_port" >"$STATE/monitor_port"
  local tls=()
  if [ -n "${NATS_TLS_CERT:-}" ]; then
    tls=(--tls --tlscert "$NATS_TLS_CERT" --tlskey "$NATS_TLS_KEY")
    [ -n "${NATS_TLS_CA:-}" ] && tls+=(--tlscacert "$NATS_TLS_CA" --tlsverify)
  fi
  exec nats-server -a 127.0.0.1 -p "$PORT" -m "$monitor_port" -js -sd "$DATA" "${tls[@]}"
}

service_ready() {
  [ -s "$STATE/monitor_port" ] && http_ok "http://127.0.0.1:$(cat "$STATE/monitor_port")/healthz?js-enabled-only=true"
}

service_main "$@"
