#!/usr/bin/env bash
# InfluxDB 1.x (Debian's) on 127.0.0.1, HTTP API with auth off; see lib.sh.
SERVICE_NAME=influxdb
SERVICE_PACKAGE=influxdb
SERVICE_BINARY=influxd
source "$(dirname "$0")/lib.sh"

service_run() {
  # Its RPC (backup) service wants a port of its own too.
  local rpc_port
  rpc_port="$(free_port "$PORT")"
  cat >"$STATE/influxdb.conf" <<TOML
reporting-disabled = true
bind-address = "127.0.0.1:$rpc_port"
[meta]
  dir = "$DATA/meta"
[data]
  dir = "$DATA/data"
  wal-dir = "$DATA/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$PORT"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
TOML
  exec influxd -config "$STATE/influxdb.conf"
}

service_ready() {
  http_ok "http://127.0.0.1:$PORT/ping"
}

service_main "$@"
