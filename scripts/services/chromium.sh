#!/usr/bin/env bash
# Debian's chromium, for the dashboard's browser tests (driven by playwright-core: no browser
# download). `chromium.sh install` installs it when missing (as root) and prints its path.
SERVICE_NAME=chromium
SERVICE_PACKAGE=chromium
SERVICE_BINARY=chromium
source "$(dirname "$0")/lib.sh"

case "${1:-}" in
  install) ensure_installed && command -v chromium ;;
  *) die "usage: $0 install" ;;
esac
