#!/usr/bin/env bash
# `make dev`: a local Pocketbook on http://127.0.0.1:${API_PORT:-9000}.
#   1. the local DynamoDB (moto, serialised) on 127.0.0.1:${DDB_PORT:-8000}, unless
#      AWS_ENDPOINT_URL_DYNAMODB is already set (then that one is used and nothing is started);
#   2. the table (pocketbook-admin create-table) and a development API key;
#   3. the local front (front/, pocketbook-front) on 127.0.0.1:${API_PORT:-9000}: the HTTP API's
#      paths only, passed on to
#   4. `cargo lambda watch` on 127.0.0.1:${INVOKE_PORT:-9001}, routing the API Gateway paths to
#      the functions (see the router in Cargo.toml), rebuilding on every change. It also serves
#      the Lambda Invoke API there (any function, any projectId, no API key): the front never
#      passes that on, so only what runs on this machine reaches it, on the internal port;
#   5. events out: the event bus `pocketbook-local` and the webhook delivery queue
#      `pocketbook-webhook-deliveries` on the same local endpoint (moto serves EventBridge,
#      SQS and the table's DynamoDB stream too), and pocketbook-local-events (front/), which
#      does what Lambda's event source mappings do once deployed: it polls the table's stream
#      into publish-events and the queue into deliver-webhooks, through the Invoke API
#      (log: .dev/events.log).
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_EC2_METADATA_DISABLED=true
export TABLE_NAME="${TABLE_NAME:-pocketbook}"
export POCKETBOOK_PAGE_TOKEN_KEY="${POCKETBOOK_PAGE_TOKEN_KEY:-local-development-page-token-key}"
# Seals API keys' signing secrets (shared/src/domain/sealed.rs): the functions open them with
# it and pocketbook-admin seals them with it, so both must get the same one (exported for the
# admin tool, passed to `cargo lambda watch` below). The default is the value both fall back to
# when it is unset (shared/src/config.rs), so a key sealed by an admin run without it opens too.
export POCKETBOOK_SECRETS_KEY="${POCKETBOOK_SECRETS_KEY:-pocketbook-development-secrets-key}"
export PATH="$PWD/.venv/bin:$PATH"
api_port="${API_PORT:-9000}"
invoke_port="${INVOKE_PORT:-9001}"
mkdir -p .dev
# Whatever this script starts in the background stops with it.
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

events=false
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  events=true
  port="${DDB_PORT:-8000}"
  rm -f .dev/dynamodb.port
  .venv/bin/python scripts/local_dynamodb.py --port "$port" --port-file .dev/dynamodb.port > .dev/dynamodb.log 2>&1 &
  ddb_pid=$!
  pids+=("$ddb_pid")
  for _ in $(seq 1 150); do
    [ -s .dev/dynamodb.port ] && break
    kill -0 "$ddb_pid" 2>/dev/null || { cat .dev/dynamodb.log; echo "the local DynamoDB did not start" >&2; exit 1; }
    sleep 0.2
  done
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$(cat .dev/dynamodb.port)"
  echo "local DynamoDB: $AWS_ENDPOINT_URL_DYNAMODB (moto, one request at a time)"
else
  echo "using the DynamoDB at $AWS_ENDPOINT_URL_DYNAMODB"
fi

cargo build --quiet -p pocketbook-admin -p pocketbook-front
admin=target/debug/pocketbook-admin
"$admin" create-table --if-missing
key="$("$admin" create-api-key --project dev --scopes read,write --quiet)"
echo "$key" > .dev/api-key

# Events out: the bus publish-events puts events on and the queue of webhook deliveries.
events_env=()
if $events; then
  export EVENT_BUS_NAME="${EVENT_BUS_NAME:-pocketbook-local}"
  DELIVERY_QUEUE_URL="$(.venv/bin/python - "$AWS_ENDPOINT_URL_DYNAMODB" "$EVENT_BUS_NAME" <<'PY'
import os, sys, boto3
endpoint, bus = sys.argv[1], sys.argv[2]
local = dict(endpoint_url=endpoint, region_name=os.environ["AWS_REGION"])
events = boto3.client("events", **local)
if bus not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
    events.create_event_bus(Name=bus)
print(boto3.client("sqs", **local).create_queue(QueueName="pocketbook-webhook-deliveries")["QueueUrl"])
PY
)"
  export DELIVERY_QUEUE_URL
  events_env=(
    --env-var "EVENT_BUS_NAME=$EVENT_BUS_NAME"
    --env-var "DELIVERY_QUEUE_URL=$DELIVERY_QUEUE_URL"
    --env-var "AWS_ENDPOINT_URL_EVENTBRIDGE=$AWS_ENDPOINT_URL_DYNAMODB"
    --env-var "AWS_ENDPOINT_URL_SQS=$AWS_ENDPOINT_URL_DYNAMODB"
    --env-var "POCKETBOOK_WEBHOOK_ALLOW_INSECURE=true"
    --env-var "POCKETBOOK_PUBLIC_URL=http://127.0.0.1:$api_port"
  )
  echo "events: bus $EVENT_BUS_NAME, webhook deliveries $DELIVERY_QUEUE_URL (pocketbook-local-events, log in .dev/events.log)"
else
  echo "events: not run locally with an outside DynamoDB (they need moto's streams, SQS and EventBridge)"
fi

cat <<MSG

Pocketbook is starting on http://127.0.0.1:$api_port (the first request of each function compiles it).
Exposed there: the HTTP API's routes only (pocketbook-front, loopback). The Lambda Invoke API of
cargo lambda watch (POST /2015-03-31/functions/<name>/invocations: no API key) is only on
127.0.0.1:$invoke_port, for the admin and test tools; the front answers it with a 404.
Development API key for project "dev" (also in .dev/api-key):

  export POCKETBOOK_KEY=$key

Try:

  curl -s -X POST http://127.0.0.1:$api_port/balances -H "Authorization: Bearer \$POCKETBOOK_KEY" \\
       -H 'content-type: application/json' -d '{"balanceType": "EUR", "balanceName": "Store credit"}'

  curl -s -X POST http://127.0.0.1:$api_port/balances/<balanceId>/operations -H "Authorization: Bearer \$POCKETBOOK_KEY" \\
       -H 'content-type: application/json' -d '{"amount": 10.50, "type": "INC"}'

  curl -s http://127.0.0.1:$api_port/balances/<balanceId> -H "Authorization: Bearer \$POCKETBOOK_KEY"
  curl -s http://127.0.0.1:$api_port/balances/<balanceId>/transactions -H "Authorization: Bearer \$POCKETBOOK_KEY"

  curl -s -X POST http://127.0.0.1:$api_port/v1.0/wallets -H "Authorization: Bearer \$POCKETBOOK_KEY" \\
       -H 'content-type: application/json' -d '{"name": "Savings"}'

Webhooks: every committed change is published (after the commit, by pocketbook-local-events
and publish-events) and POSTed, signed, to the endpoints a project registers. A receiver on
127.0.0.1:8081 (README, "Events and webhooks"), then:

  curl -s -X POST http://127.0.0.1:$api_port/webhooks -H "Authorization: Bearer \$POCKETBOOK_KEY" \\
       -H 'content-type: application/json' -d '{"url": "http://127.0.0.1:8081/hook", "events": ["*"]}'

The admin tool works against the same database from another shell (with the same
POCKETBOOK_SECRETS_KEY, so that a key made with --signing-secret opens here):

  AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB TABLE_NAME=$TABLE_NAME AWS_REGION=$AWS_REGION \\
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local POCKETBOOK_SECRETS_KEY=$POCKETBOOK_SECRETS_KEY \\
  cargo run -q -p pocketbook-admin -- --help

MSG

# HTTP wallet providers (POCKETBOOK_PROVIDER_*) and the refresh bound, when set in this shell;
# without them every gateway is the sandbox.
provider_env=()
while IFS='=' read -r name value; do
  provider_env+=(--env-var "$name=$value")
done < <(env | grep -E '^POCKETBOOK_(PROVIDER_|REFRESH_TIMEOUT_MS=)' || true)

rm -f .dev/front.port
target/debug/pocketbook-front --listen "127.0.0.1:$api_port" --upstream "http://127.0.0.1:$invoke_port" \
  --port-file .dev/front.port &
front_pid=$!
pids+=("$front_pid")
for _ in $(seq 1 50); do
  [ -s .dev/front.port ] && break
  kill -0 "$front_pid" 2>/dev/null || { echo "the local front did not start (is 127.0.0.1:$api_port taken?)" >&2; exit 1; }
  sleep 0.1
done

if $events; then
  # It invokes through cargo lambda watch's Invoke API, which starts below: until then (and
  # while a function compiles) its invocations fail and it tries again, for ever (--max-attempts 0).
  target/debug/pocketbook-local-events --invoke-url "http://127.0.0.1:$invoke_port" --max-attempts 0 \
    > .dev/events.log 2>&1 &
  pids+=("$!")
fi

cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
  --env-var "TABLE_NAME=$TABLE_NAME" \
  --env-var "AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB" \
  --env-var "AWS_REGION=$AWS_REGION" \
  --env-var "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID" \
  --env-var "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY" \
  --env-var "POCKETBOOK_PAGE_TOKEN_KEY=$POCKETBOOK_PAGE_TOKEN_KEY" \
  --env-var "POCKETBOOK_SECRETS_KEY=$POCKETBOOK_SECRETS_KEY" \
  --env-var "POCKETBOOK_API_KEY_CACHE_SECONDS=0" \
  --env-var "AWS_EC2_METADATA_DISABLED=true" \
  "${provider_env[@]}" "${events_env[@]}"
