#!/usr/bin/env bash
# Load run: inbound messages over HTTP against a release `plaza serve --demo` (durable
# de-duplication, auto-reply answering every message in a fresh wasm instance), and the same
# request against the plain-axum anchor (host/examples/anchor_axum.rs) in the same run.
# Usage: bench/http-load.sh [connections] [seconds]
# With PLAZA_BASE_BIN=/path/to/an/older/plaza, that binary is measured too, in the same run, so a
# change can be compared with what it replaces (the machine is noisy: compare ratios).
# The demo account has more plugins than auto-reply since the feature plugins landed; by default
# the others are uninstalled before measuring, so that runs compare the same work with older
# binaries. PLAZA_BENCH_DEMO=full keeps every demo plugin (each message then visits moderation,
# membership, interactive, shop and editor before auto-reply answers, and moderation reviews the
# reply).
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${1:-32}
secs=${2:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p plaza-host --bin plaza --example anchor_axum -q
data=$(mktemp -d)
export PLAZA_ADMIN_TOKEN=bench-token
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$data"' EXIT

start() { # name binary port
  RUST_LOG=warn "$2" serve --demo --data-dir "$data/$1" --listen "127.0.0.1:$3" > "$data/$1.out" 2> "$data/$1.err" &
  pids+=($!)
  for _ in $(seq 300); do grep -q listening "$data/$1.out" 2>/dev/null && return; sleep 0.1; done
  echo "$1 did not start: $(cat "$data/$1.err")" >&2; exit 1
}

target/release/examples/anchor_axum 127.0.0.1:18190 > /dev/null &
pids+=($!)
only_auto_reply() { # port
  [ "${PLAZA_BENCH_DEMO:-auto-reply}" = full ] && return
  for p in moderation membership interactive analytics editor ad-slots shop competitor-analysis; do
    curl -s -o /dev/null -X DELETE -H "Authorization: Bearer $PLAZA_ADMIN_TOKEN" \
      "http://127.0.0.1:$1/api/v1/accounts/demo/installations/$p" || true
  done
}
start current target/release/plaza 18181
current=${pids[-1]}
only_auto_reply 18181
if [ -n "${PLAZA_BASE_BIN:-}" ]; then start base "$PLAZA_BASE_BIN" 18182; base=${pids[-1]}; only_auto_reply 18182; fi

run() {
  wrk -t1 -c"$conns" -d2s -s bench/inbound.lua "$1" > /dev/null   # warm-up
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/inbound.lua "$1"
}
echo "== anchor: plain axum, same JSON in and out, no wasm, no storage"
run http://127.0.0.1:18190
echo "== plaza serve --demo (${PLAZA_BENCH_DEMO:-auto-reply} plugins): durable de-dup + plugins (fresh instance per call)"
run http://127.0.0.1:18181
echo "plaza RSS after the run (KiB): $(awk '/VmRSS/{print $2}' /proc/$current/status)"
if [ -n "${PLAZA_BASE_BIN:-}" ]; then
  echo "== base ($PLAZA_BASE_BIN): the same request"
  run http://127.0.0.1:18182
  echo "base RSS after the run (KiB): $(awk '/VmRSS/{print $2}' /proc/$base/status)"
fi
