#!/usr/bin/env bash
# PostgreSQL (Debian's, version 15 on bookworm) on 127.0.0.1 with trust auth for the user
# `postgres`, a throwaway cluster in the state dir; see lib.sh. Connect with
# postgres://postgres@127.0.0.1:<port>/postgres. With PG_SSL_CERT_FILE and PG_SSL_KEY_FILE
# (PEM) it also accepts TLS with that certificate.
SERVICE_NAME=postgresql
SERVICE_PACKAGE=postgresql
# pg_ctlcluster is on PATH once Debian's packages are in; the server binaries are not.
SERVICE_BINARY=pg_ctlcluster
source "$(dirname "$0")/lib.sh"

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] || die "no /usr/lib/postgresql/<version>/bin after installing $SERVICE_PACKAGE"
  echo "$dir"
}

# The server refuses to run as root: as root, run it as the package's `postgres` user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

service_run() {
  local bin
  bin="$(pg_bin)"
  [ "$(id -u)" = 0 ] && chown -R postgres "$STATE"
  # A restart keeps the cluster it made the first time.
  [ -e "$DATA/PG_VERSION" ] ||
    as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-sync >/dev/null
  local tls=()
  if [ -n "${PG_SSL_CERT_FILE:-}" ]; then
    # The server reads the key only if its owner alone may: copies it owns.
    install -m 0600 "$PG_SSL_CERT_FILE" "$STATE/server.crt"
    install -m 0600 "$PG_SSL_KEY_FILE" "$STATE/server.key"
    [ "$(id -u)" = 0 ] && chown postgres "$STATE/server.crt" "$STATE/server.key"
    tls=(-c ssl=on -c ssl_cert_file="$STATE/server.crt" -c ssl_key_file="$STATE/server.key")
  fi
  runuser_or_exec "$bin/postgres" -D "$DATA" -h 127.0.0.1 -p "$PORT" -k "$STATE" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off "${tls[@]}"
}

runuser_or_exec() {
  if [ "$(id -u)" = 0 ]; then exec runuser -u postgres -- "$@"; else exec "$@"; fi
}

# SIGTERM is a "smart" shutdown, which waits for every client to leave (a connection pool
# never does), and a server killed instead leaves its lock file behind: a restart then
# found "another postmaster" in the data directory. A fast shutdown that pg_ctl waits for
# ends sessions and removes the lock file.
service_shutdown() {
  [ -e "$DATA/postmaster.pid" ] || return 0
  as_owner "$(pg_bin)/pg_ctl" stop -D "$DATA" -m fast -w -t 30 >/dev/null 2>&1
}

service_ready() {
  "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PORT"
}

service_main "$@"
