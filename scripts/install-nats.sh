#!/usr/bin/env bash
# Installs the pinned nats-server and `nats` CLI with `go install` (the Go module proxy is the
# only source this project's machines reach). Quick when the pinned versions are already there.
set -euo pipefail

NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.12.15}"
NATS_CLI_VERSION="${NATS_CLI_VERSION:-v0.5.1}"

if ! command -v go >/dev/null 2>&1; then
  echo "install-nats: Go is not installed; install Go (https://go.dev/dl) or set NATS_SERVER_BIN to a nats-server ${NATS_SERVER_VERSION} binary." >&2
  exit 1
fi
gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"

have_version() { # binary, expected version
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q -- "${2#v}"
}

if have_version "$gobin/nats-server" "$NATS_SERVER_VERSION"; then
  echo "install-nats: nats-server ${NATS_SERVER_VERSION} already at $gobin/nats-server"
else
  echo "install-nats: building nats-server ${NATS_SERVER_VERSION} with go install (about a minute)..."
  go install "github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}"
fi

if have_version "$gobin/nats" "$NATS_CLI_VERSION"; then
  echo "install-nats: nats CLI ${NATS_CLI_VERSION} already at $gobin/nats"
else
  echo "install-nats: building the nats CLI ${NATS_CLI_VERSION} with go install (about a minute)..."
  go install "github.com/nats-io/natscli/nats@${NATS_CLI_VERSION}"
fi

"$gobin/nats-server" --version
echo "install-nats: done; binaries are in $gobin (the project looks there, on PATH, and at NATS_SERVER_BIN)"
