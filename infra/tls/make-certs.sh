#!/usr/bin/env bash
# Make a local CA and a broker certificate for 127.0.0.1/localhost, for EMINING_KAFKA_SECURITY=
# scram-tls on the project's own broker and for tests. Not for production: there, the
# organisation's PKI issues the broker certificate and clients get its CA (EMINING_KAFKA_CA_FILE).
#
#   infra/tls/make-certs.sh <dir>     writes <dir>/ca.pem, <dir>/ca.key, <dir>/broker.pem
#
# broker.pem holds the broker's PKCS#8 key and its certificate chain (Kafka's PEM keystore);
# ca.pem is what clients trust. Keys are 0600. Re-running replaces everything.
set -euo pipefail
dir=${1:?usage: make-certs.sh <dir>}
openssl=${OPENSSL:-openssl}
days=${EMINING_TLS_DAYS:-825}
mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$openssl" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
  -subj "/O=E-Mining Bus/CN=E-Mining Bus local CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null

"$openssl" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/O=E-Mining Bus/CN=localhost" -keyout "$work/broker.key" -out "$work/broker.csr" 2>/dev/null
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$work/ext"
"$openssl" x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days "$days" -extfile "$work/ext" -out "$work/broker.crt" 2>/dev/null

"$openssl" pkcs8 -topk8 -nocrypt -in "$work/broker.key" -out "$work/broker.p8"
cat "$work/broker.p8" "$work/broker.crt" "$work/ca.pem" >"$dir/broker.pem"
cp "$work/ca.key" "$dir/ca.key"
cp "$work/ca.pem" "$dir/ca.pem"
chmod 600 "$dir/broker.pem" "$dir/ca.key"
chmod 644 "$dir/ca.pem"
echo "made $dir/ca.pem and $dir/broker.pem"
