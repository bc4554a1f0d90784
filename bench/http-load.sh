#!/usr/bin/env bash
# Load run: inbound messages over HTTP against a release `plaza serve --demo` (durable de-dup,
# auto-reply answering every message). Prints wrk's summary. Usage: bench/http-load.sh [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-32}
secs=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p plaza-host -q
data=$(mktemp -d)
export PLAZA_ADMIN_TOKEN=bench-token
RUST_LOG=warn target/release/plaza serve --demo --data-dir "$data/data" --listen 127.0.0.1:18181 > "$data/out" 2> "$data/err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do grep -q listening "$data/out" 2>/dev/null && break; sleep 0.1; done
# Warm-up, then the measured run.
wrk -t1 -c"$conns" -d2s -s bench/inbound.lua http://127.0.0.1:18181 > /dev/null
wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/inbound.lua http://127.0.0.1:18181
echo "server RSS (KiB): $(awk '/VmRSS/{print $2}' /proc/$pid/status)"
