#!/usr/bin/env bash
# Load run: inbound messages over HTTP against a release `plaza serve --demo` (durable
# de-duplication, auto-reply answering every message in a fresh wasm instance), and the same
# request against the plain-axum anchor (host/examples/anchor_axum.rs) in the same run.
# Usage: bench/http-load.sh [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-32}
secs=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p plaza-host --bin plaza --example anchor_axum -q
data=$(mktemp -d)
export PLAZA_ADMIN_TOKEN=bench-token
RUST_LOG=warn target/release/plaza serve --demo --data-dir "$data/data" --listen 127.0.0.1:18181 > "$data/out" 2> "$data/err" &
pid=$!
target/release/examples/anchor_axum 127.0.0.1:18190 > /dev/null &
anchor=$!
trap 'kill $pid $anchor 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do grep -q listening "$data/out" 2>/dev/null && break; sleep 0.1; done

run() {
  wrk -t1 -c"$conns" -d2s -s bench/inbound.lua "$1" > /dev/null   # warm-up
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/inbound.lua "$1"
}
echo "== anchor: plain axum, same JSON in and out, no wasm, no storage"
run http://127.0.0.1:18190
echo "== plaza serve --demo: durable de-dup + auto-reply plugin (fresh instance per message)"
run http://127.0.0.1:18181
echo "plaza RSS after the run (KiB): $(awk '/VmRSS/{print $2}' /proc/$pid/status)"
