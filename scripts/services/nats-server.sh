#!/usr/bin/env bash
# nats-server with JetStream (file storage in the state dir, so it survives a restart) on
# 127.0.0.1; see lib.sh.
SERVICE_NAME=nats-server
SERVICE_PACKAGE=nats-server
SERVICE_BINARY=nats-server
source "$(dirname "$0")/lib.sh"

service_run() {
  # The monitoring port answers /healthz once JetStream is up.
  local monitor_port
  monitor_port="$(free_port)"
  echo "$monitor_port" >"$STATE/monitor_port"
  exec nats-server -a 127.0.0.1 -p "$PORT" -m "$monitor_port" -js -sd "$DATA"
}

service_ready() {
  [ -s "$STATE/monitor_port" ] && http_ok "http://127.0.0.1:$(cat "$STATE/monitor_port")/healthz?js-enabled-only=true"
}

service_main "$@"
