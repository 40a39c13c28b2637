#!/bin/sh
# Sends one CloudEvent to the quickstart broker with curl and prints the HTTP status (202 = stored).
#
#   examples/send-event.sh [binary|structured] [type] [json-data]
#
# binary (default): attributes in ce-* headers, the data as the body.
# structured: the whole event as one JSON document (application/cloudevents+json).
# Environment: BROKER_URL (default http://127.0.0.1:8080/default/default), EVENT_SOURCE (/shop),
# EVENT_SUBJECT (none), EVENT_AMOUNT (250; an extension attribute the big-orders trigger reads).
set -eu
mode=${1:-binary}
type=${2:-com.example.order.created}
data=${3:-'{"order":42}'}
url=${BROKER_URL:-http://127.0.0.1:8080/default/default}
source=${EVENT_SOURCE:-/shop}
amount=${EVENT_AMOUNT:-250}
id="$(date +%s)-$$"

case "$mode" in
  binary)
    if [ -n "${EVENT_SUBJECT:-}" ]; then set -- -H "ce-subject: $EVENT_SUBJECT"; else set --; fi
    curl -sS -X POST "$url" \
      -H "ce-specversion: 1.0" -H "ce-id: $id" -H "ce-source: $source" -H "ce-type: $type" \
      -H "ce-amount: $amount" "$@" \
      -H "content-type: application/json" \
      --data-binary "$data" -w "HTTP %{http_code}\n"
    ;;
  structured)
    subject=""
    if [ -n "${EVENT_SUBJECT:-}" ]; then subject=",\"subject\":\"$EVENT_SUBJECT\""; fi
    curl -sS -X POST "$url" \
      -H "content-type: application/cloudevents+json" \
      --data-binary "{\"specversion\":\"1.0\",\"id\":\"$id\",\"source\":\"$source\",\"type\":\"$type\",\"amount\":$amount$subject,\"datacontenttype\":\"application/json\",\"data\":$data}" \
      -w "HTTP %{http_code}\n"
    ;;
  *)
    echo "usage: $0 [binary|structured] [type] [json-data]" >&2
    exit 2
    ;;
esac
