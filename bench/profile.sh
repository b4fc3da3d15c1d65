#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# bench/profile.sh - where relaytrap's engine and store spend their CPU.
#
# Starts relaytrap on a loopback port with full capture and the bench
# settings of run.sh, records both processes with `perf record` (call graphs
# from DWARF unwinding) while smtp-source sends MSGS messages over SESS
# sessions, and prints the top symbols per process, self time first.
#
# Usage: bench/profile.sh [PATH-TO-RELAYTRAP] [SESS] [BYTES] [MSGS]
# Environment: BENCH_PORT (default 25330), BENCH_OUT (default a mktemp dir).
# Limits: 127.0.0.1 only; smtp-source is bounded by MSGS and a 120 s timeout.

set -euo pipefail

RELAYTRAP=$(readlink -f "${1:-build/relaytrap}")
SESS=${2:-50}
BYTES=${3:-1024}
MSGS=${4:-10000}
PORT=${BENCH_PORT:-25330}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/relaytrap-prof.XXXXXX)}
mkdir -p "$OUT/data"

command -v perf >/dev/null || { echo "profile.sh: needs perf (linux-perf)" >&2; exit 1; }

"$RELAYTRAP" serve --listen "127.0.0.1:$PORT" --data-dir "$OUT/data" \
	--set delay_banner=0 --set delay_reply=0 --set delay_jitter=0 \
	--set max_sessions=20000 --set max_per_ip=20000 \
	--set max_messages=100000 --set max_commands=10000000 -q >"$OUT/relaytrap.log" 2>&1 &
pid=$!
# cleanup - stop the daemon this script started.
cleanup() {
	kill "$pid" 2>/dev/null || true
}
trap cleanup EXIT

for i in $(seq 1 100); do
	ss -Hltn "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
# the engine forks the store keeper, the keeper forks the store (docs/security.md)
kpid=$(cat /proc/"$pid"/task/*/children | tr -s ' \n' ' ' | awk '{ print $1 }')
spid=$(cat /proc/"$kpid"/task/*/children | tr -s ' \n' ' ' | awk '{ print $1 }')
[ -n "$spid" ] || { echo "profile.sh: no store process under $pid" >&2; exit 1; }

perf record -F 1999 --call-graph dwarf,16384 -o "$OUT/perf.data" -p "$pid,$spid" >"$OUT/perf.log" 2>&1 &
perfpid=$!
sleep 1
timeout 120 /usr/sbin/smtp-source -s "$SESS" -l "$BYTES" -m "$MSGS" \
	-f bench@example.com -t rcpt@example.net -M bench.example.com "127.0.0.1:$PORT"
sleep 1
kill -INT "$perfpid"
wait "$perfpid" || true

echo "engine pid $pid, store pid $spid; perf data in $OUT/perf.data"
for p in "$pid" "$spid"; do
	echo
	echo "=== pid $p: self time by symbol ==="
	perf report -i "$OUT/perf.data" --pid "$p" --no-children --stdio --sort dso,symbol -g none \
		--percent-limit 1.5 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30
done
