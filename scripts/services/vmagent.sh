#!/usr/bin/env bash
# vmagent (from the victoria-metrics package) on 127.0.0.1; see lib.sh. It accepts remote
# write on /api/v1/write and forwards everything, scraped or received, to
#   VMAGENT_REMOTE_WRITE_URL  (required) where to remote-write
#   VMAGENT_SCRAPE_CONFIG     (optional) a Prometheus-style scrape config file
SERVICE_NAME=vmagent
SERVICE_PACKAGE=victoria-metrics
SERVICE_BINARY=vmagent
source "$(dirname "$0")/lib.sh"

service_run() {
  [ -n "${VMAGENT_REMOTE_WRITE_URL:-}" ] || die "set VMAGENT_REMOTE_WRITE_URL"
  local scrape=()
  [ -n "${VMAGENT_SCRAPE_CONFIG:-}" ] && scrape=(-promscrape.config="$VMAGENT_SCRAPE_CONFIG")
  exec vmagent \
    -httpListenAddr="127.0.0.1:$PORT" \
    -remoteWrite.url="$VMAGENT_REMOTE_WRITE_URL" \
    -remoteWrite.tmpDataPath="$DATA" \
    -remoteWrite.flushInterval=200ms \
    "${scrape[@]}"
}

service_ready() {
  http_ok "http://127.0.0.1:$PORT/health"
}

service_main "$@"
