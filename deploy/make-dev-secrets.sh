#!/usr/bin/env bash
# Development secrets for docker-compose.yml: the TLS set (deploy/nats/make-dev-ca.sh) and a
# .env next to docker-compose.yml with one random NATS password per user, an API key for the
# tenant `acme` and an admin API key. Keeps an existing .env. Never for production.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/deploy/nats/make-dev-ca.sh" "$root/deploy/nats/tls"
# nats-server parses a password given through the environment as a config value: a letter,
# then letters and digits.
secret() { printf 'p%s' "$(openssl rand -hex 24)"; }
if [ -f "$root/.env" ]; then
  echo "make-dev-secrets: $root/.env exists; kept"
  exit 0
fi
umask 077
{
  for user in ADMIN GATEWAY WORKER RELAY OPERATOR; do echo "${user}_NATS_PASSWORD=$(secret)"; done
  echo "API_KEYS=$(secret):acme"
  echo "ADMIN_API_KEY=$(secret)"
} > "$root/.env"
echo "make-dev-secrets: wrote $root/.env (API key for tenant acme: grep API_KEYS .env)"
