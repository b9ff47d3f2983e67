#!/usr/bin/env bash
# apt-install.sh PACKAGE COMMAND...: installs Debian's PACKAGE unless every COMMAND is already on
# PATH, then checks that they are. Needs root or sudo (apt-get).
set -euo pipefail
package="$1"
shift
missing=0
for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing=1; done
[ "$missing" -eq 1 ] || exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing $package (apt-get) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
for cmd in "$@"; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "$cmd not found after installing $package" >&2; exit 1; }
done
