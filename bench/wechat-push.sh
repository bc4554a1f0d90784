#!/usr/bin/env bash
# Load run: secure-mode WeChat pushes → encrypted passive replies over HTTP, against a release
# `plaza serve --demo` whose demo account is bridged (decrypt, de-duplication record, auto-reply in
# a fresh wasm instance, encrypted reply), and the plain-axum anchor answering the same requests
# with `success` in the same run.
# Usage: bench/wechat-push.sh [connections] [seconds] [pushes]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-32}
secs=${2:-10}
pushes=${3:-40000}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p plaza-host --bin plaza --example anchor_axum --example wechat_pushes -q
data=$(mktemp -d)
export PLAZA_ADMIN_TOKEN=bench-token
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$data"' EXIT
token=benchtoken
key=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
appid=wx1234567890abcdef

target/release/examples/anchor_axum 127.0.0.1:18190 > /dev/null &
pids+=($!)
RUST_LOG=warn target/release/plaza serve --demo --data-dir "$data/plaza" --listen 127.0.0.1:18181 > "$data/plaza.out" 2> "$data/plaza.err" &
pids+=($!)
plaza=${pids[-1]}
for _ in $(seq 300); do grep -q listening "$data/plaza.out" 2>/dev/null && break; sleep 0.1; done
curl -sf -X PUT -H "Authorization: Bearer $PLAZA_ADMIN_TOKEN" -H 'Content-Type: application/json' \
  http://127.0.0.1:18181/api/v1/accounts/demo/wechat \
  -d "{\"appid\":\"$appid\",\"secret\":\"benchsecret\",\"token\":\"$token\",\"encoding_aes_key\":\"$key\",\"mode\":\"secure\"}" > /dev/null
target/release/examples/wechat_pushes "$pushes" "$token" "$key" "$appid" gh_bench > "$data/pushes.tsv"
export PUSH_FILE="$data/pushes.tsv"

run() {
  wrk -t1 -c"$conns" -d2s -s bench/wechat_push.lua "$1" > /dev/null   # warm-up
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/wechat_push.lua "$1"
}
echo "== anchor: plain axum, same requests, answers success (no crypto, no wasm, no storage)"
run http://127.0.0.1:18190
echo "== plaza: secure-mode push → decrypt → pipeline (auto-reply) → encrypted passive reply"
run http://127.0.0.1:18181
echo "plaza RSS after the run (KiB): $(awk '/VmRSS/{print $2}' /proc/$plaza/status)"
