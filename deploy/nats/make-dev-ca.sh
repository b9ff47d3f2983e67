#!/usr/bin/env bash
# A local certificate authority and one node certificate for development and tests (never for
# production: bring your own CA there). Writes into DIR (default deploy/nats/tls):
#   ca.pem, ca-key.pem      the CA (clients set NATS_TLS_CA=ca.pem)
#   node.pem, node-key.pem  the certificate every node presents, to clients and to its routes
#                           (serverAuth + clientAuth, so routes can verify each other)
# The node certificate names localhost, 127.0.0.1 and the docker-compose host names; add more
# with EXTRA_SANS="DNS:nats.example.org,IP:10.0.0.5". Idempotent: an existing CA is reused.
set -euo pipefail

dir="${1:-$(dirname "$0")/tls}"
days="${DAYS:-825}"
sans="DNS:localhost,IP:127.0.0.1,DNS:nats,DNS:nats-1,DNS:nats-2,DNS:nats-3${EXTRA_SANS:+,$EXTRA_SANS}"
mkdir -p "$dir"
cd "$dir"
umask 077

if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -sha256 \
    -keyout ca-key.pem -out ca.pem -subj "/CN=nats-orders development CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
fi
openssl req -newkey rsa:2048 -nodes -keyout node-key.pem -out node.csr \
  -subj "/CN=nats-orders node" 2>/dev/null
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days "$days" \
  -sha256 -out node.pem -extfile <(printf '%s\n' \
    "subjectAltName=$sans" \
    "extendedKeyUsage=serverAuth,clientAuth" \
    "keyUsage=critical,digitalSignature,keyEncipherment") 2>/dev/null
rm -f node.csr ca.srl
chmod 644 ca.pem node.pem
echo "make-dev-ca: CA and node certificate in $dir (SANs: $sans)"
