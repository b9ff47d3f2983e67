#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package) for the alert-rule tests and
# the scrape test, unless they are already on PATH. Needs root or sudo (apt-get).
set -euo pipefail
if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing prometheus and promtool (apt-get) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
command -v promtool >/dev/null 2>&1 || { echo "promtool not found after installing prometheus" >&2; exit 1; }
