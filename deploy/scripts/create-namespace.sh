#!/bin/sh
# One-shot (service `temporal-create-namespace`): create the namespace if missing. Safe to re-run:
# an existing namespace is accepted. Everything slaflow keeps on the namespace (search attributes,
# retention, schedules) is set afterwards by `slaflow setup` (service `slaflow-setup`), which does
# not create namespaces.
set -eu

NAMESPACE=${DEFAULT_NAMESPACE:-default}
TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
HOST=${TEMPORAL_ADDRESS%:*}
PORT=${TEMPORAL_ADDRESS##*:}

echo "Waiting for Temporal at ${TEMPORAL_ADDRESS}..."
nc -z -w 10 "$HOST" "$PORT"

# Like the upstream recipe, dial the first stream address the name resolves to (works around
# IPv6-first resolution in some Docker setups); fall back to the host name.
IP=$(getent ahosts "$HOST" 2>/dev/null | awk '/STREAM/ { print $1; exit }') || IP=""
ADDRESS="${IP:-$HOST}:${PORT}"
echo "Using Temporal frontend at ${ADDRESS}"

attempt=0
until temporal operator cluster health --address "$ADDRESS"; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "Temporal did not become healthy" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe --namespace "$NAMESPACE" --address "$ADDRESS" >/dev/null 2>&1; then
  echo "Namespace '${NAMESPACE}' already exists"
elif out=$(temporal operator namespace create --namespace "$NAMESPACE" --address "$ADDRESS" 2>&1); then
  echo "Namespace '${NAMESPACE}' created"
else
  case $out in
    *"already exists"* | *"AlreadyExists"*) echo "Namespace '${NAMESPACE}' already exists" ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
fi

temporal operator namespace describe --namespace "$NAMESPACE" --address "$ADDRESS"
echo "Namespace '${NAMESPACE}' is ready"
