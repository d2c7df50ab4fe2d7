# Shared by the service scripts: `source` it, then call `service_main "$@"` after defining
#   SERVICE_NAME     the name used in messages and temp folders
#   SERVICE_PACKAGE  the Debian package that provides it
#   SERVICE_BINARY   the command that must exist after installing it
#   service_run      starts the server in the foreground (with exec) on $PORT with data in $DATA
#   service_ready    exits 0 once the server answers on $PORT
#
# `<script> start` prints `<host:port> <state dir>` once the server is ready; `<script> stop
# <state dir>` stops it and removes its data; `<script> restart <state dir>` stops it and
# starts it again on the same port with the same data; `<script> pause <state dir>` stops it
# keeping its data and port, `<script> resume <state dir>` starts it again (outage tests).
# Servers listen on 127.0.0.1 only, on a free port.
set -euo pipefail

die() {
  echo "$SERVICE_NAME: $*" >&2
  exit 1
}

ensure_installed() {
  command -v "$SERVICE_BINARY" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "$SERVICE_BINARY is missing and installing $SERVICE_PACKAGE needs root (apt-get install -y $SERVICE_PACKAGE)"
  # One `apt-get update` per machine: the lists are reused by the next services.
  local stamp=/var/lib/apt/periodic/sluice-update-stamp
  if [ ! -e "$stamp" ]; then
    apt-get update -qq >&2
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$SERVICE_PACKAGE" >&2 \
    || die "apt-get install $SERVICE_PACKAGE failed"
  command -v "$SERVICE_BINARY" >/dev/null 2>&1 || die "$SERVICE_PACKAGE installed but $SERVICE_BINARY is not on PATH"
}

# A port free now on 127.0.0.1, other than those given (a second port of the same server: the
# kernel may hand the one just closed out again).
free_port() {
  node -e "
    const taken = new Set(process.argv.slice(1).map(Number));
    const pick = () => {
      const s = require('node:net').createServer().listen(0, '127.0.0.1', () => {
        const port = s.address().port;
        s.close(() => (taken.has(port) ? pick() : console.log(port)));
      });
    };
    pick();" "$@"
}

http_ok() {
  # A readiness probe of a server on loopback: its test certificate is not checked here.
  NODE_TLS_REJECT_UNAUTHORIZED=0 NODE_NO_WARNINGS=1 node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" "$1"
}

service_start() {
  ensure_installed
  # A free port can be taken by someone else before the server binds it (a test's outgoing
  # connection gets it as its local port): a server that could not start gets fresh ports.
  local attempt
  for attempt in 1 2 3; do
    STATE="$(mktemp -d "${TMPDIR:-/tmp}/sluice-$SERVICE_NAME.XXXXXX")"
    DATA="$STATE/data"
    mkdir -p "$DATA"
    PORT="$(free_port)"
    echo "$PORT" >"$STATE/port"
    if (launch fresh); then
      echo "127.0.0.1:$PORT $STATE"
      return 0
    fi
    echo "$SERVICE_NAME: start attempt $attempt failed; trying again on other ports" >&2
  done
  die "could not start in 3 attempts (logs above)"
}

# Starts the server of $STATE on $PORT and waits until it is ready. When it cannot start,
# a `fresh` state dir is removed; a restarted one is kept, with its log, for a look.
launch() {
  local fresh="${1:-}"
  ( service_run >>"$STATE/log" 2>&1 ) &
  echo $! >"$STATE/pid"
  local waited=0
  until service_ready; do
    if ! kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
      tail -n 20 "$STATE/log" >&2
      [ -n "$fresh" ] && rm -rf "$STATE"
      die "exited before it was ready (log above)"
    fi
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -gt 300 ]; then
      tail -n 20 "$STATE/log" >&2
      service_kill
      [ -n "$fresh" ] && rm -rf "$STATE"
      die "not ready after 60 s (log above)"
    fi
  done
}

# Stops the server and starts it again on the same port with the same data (tests of
# reconnection and durability).
service_restart() {
  load_state "${1:-}"
  service_kill
  launch
  echo "127.0.0.1:$PORT $STATE"
}

load_state() {
  STATE="${1:-}"
  [ -n "$STATE" ] && [ -d "$STATE" ] || die "usage: $0 stop|restart <state dir printed by start>"
  PORT="$(cat "$STATE/port")"
  DATA="$STATE/data"
}

service_kill() {
  local pid
  pid="$(cat "$STATE/pid" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  # A server that has its own clean stop (it must be gone, lock files and all, before a
  # restart may start it again) gets to use it first.
  if declare -F service_shutdown >/dev/null; then service_shutdown || true; fi
  # The subshell's children first (the server), then the subshell itself.
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  pkill -KILL -P "$pid" 2>/dev/null || true
  kill -KILL "$pid" 2>/dev/null || true
}

service_stop() {
  load_state "${1:-}"
  service_kill
  rm -rf "$STATE"
}

service_main() {
  case "${1:-}" in
    start) service_start ;;
    stop) service_stop "${2:-}" ;;
    restart) service_restart "${2:-}" ;;
    pause) load_state "${2:-}" && service_kill ;;
    resume) load_state "${2:-}" && launch && echo "127.0.0.1:$PORT $STATE" ;;
    install) ensure_installed ;;
    *) die "usage: $0 start | stop|restart|pause|resume <state dir> | install" ;;
  esac
}
