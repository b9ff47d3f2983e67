#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test of /docs (driven by playwright-core; never a
# downloaded browser), unless it is already on PATH or at CHROMIUM_BIN.
set -euo pipefail
[ -x "${CHROMIUM_BIN:-/nonexistent}" ] && exit 0
exec bash "$(dirname "$0")/apt-install.sh" chromium chromium
