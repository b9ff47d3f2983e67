#!/usr/bin/env bash
# Installs Prometheus and promtool (Debian's `prometheus` package) for the alert-rule tests and
# the scrape test, unless they are already on PATH.
set -euo pipefail
exec bash "$(dirname "$0")/apt-install.sh" prometheus prometheus promtool
