#!/bin/sh
# One-shot (service `temporal-create-namespace`): create the namespace if missing and register
# slaflow's custom search attributes on it. Safe to re-run: an existing namespace or an attribute
# that already exists with the same type is accepted; the same name with another type fails.
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

# register NAME TYPE: retried because a namespace created a moment ago can take a few seconds
# to be visible to every frontend call.
register() {
  name=$1
  type=$2
  tries=0
  while :; do
    if out=$(temporal operator search-attribute create --namespace "$NAMESPACE" \
        --name "$name" --type "$type" --address "$ADDRESS" 2>&1); then
      echo "Search attribute ${name} (${type}) registered"
      return 0
    fi
    case $out in
      *"different type"*) echo "$out" >&2; return 1 ;;
      *"already exists"* | *"AlreadyExists"*) echo "Search attribute ${name} already registered"; return 0 ;;
    esac
    tries=$((tries + 1))
    if [ "$tries" -ge 15 ]; then
      echo "$out" >&2
      return 1
    fi
    echo "Registering ${name} failed, retrying: ${out}"
    sleep 2
  done
}

# slaflow's custom search attributes (workflows/search_attributes.py).
register TicketStatus Keyword
register TicketPriority Keyword
register CustomerId Keyword
register SlaBreached Bool
register ResponseDueAt Datetime
register ResolutionDueAt Datetime
register EscalationLevel Int

temporal operator search-attribute list --namespace "$NAMESPACE" --address "$ADDRESS"
echo "Namespace '${NAMESPACE}' is ready for slaflow"
