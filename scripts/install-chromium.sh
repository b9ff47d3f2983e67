#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test of /docs (driven by playwright-core; never a
# downloaded browser), unless one is already there. Needs root or sudo (apt-get).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x "${CHROMIUM_BIN:-/nonexistent}" ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing chromium (apt-get) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "chromium not found after installing it" >&2; exit 1; }
