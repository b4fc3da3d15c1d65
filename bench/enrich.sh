#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# bench/enrich.sh - relaytrap's throughput with DNS enrichment off and on.
#
# A loopback DNS server (dnsmasq, test zones only, no upstream) answers every lookup:
# PTR and A for SRC_NET/16 (synth-domain, so every source has FCrDNS), three DNSBL zones
# answering NXDOMAIN except for a few listed addresses. bench/smtpload (built as
# build/smtpload) opens CONC connections at once, each sending a PROXY v1 header with a source
# from a pool of POOL addresses from SRC_NET up, then a whole session with one small message.
# The default SRC_NET, 118.160.0.0, is public (HiNet, Taiwan), so the GeoIP databases know
# every source and "on" includes a geo event per session; with a private SRC_NET such as
# 10.77.0.0 they know none, and "on" is DNS alone. Only the PROXY headers name these
# addresses: every packet goes to 127.0.0.1. The same load runs against relaytrap with every enrichment off (enrich_geo,
# enrich_os, enrich_dns = no) and on (all yes, GeoIP from GEOIP_DIR, default var/geoip), ROUNDS
# times alternately; each run prints msgs/s, the CPU per message of the engine, the store and the resolver
# (dnsmasq shares the two cores), the DNS counters, and the end prints the
# medians, their ratio, the median of the rounds' ratios (target: on >= 90% of off) and the
# median CPU per message of engine, store and resolver together, off and on.
#
# Usage: bench/enrich.sh [BUILD-DIR]     (default build)
# Environment: MSGS (messages per run, default 30000), CONC (default 50), POOL (default
#   10000), ROUNDS (default 5), BENCH_PORT (default 25400; uses it and the next one),
#   GEOIP_DIR (default var/geoip), SRC_NET (default 118.160.0.0; POOL <= 65536), WARM (set: a first, unmeasured load of one session per
#   source fills the DNS cache, so the measured one sends no query), ENGINE (set: instead of
#   the load, build/bench/enrich_bench: CPU per session of src/enrich/ alone, fresh and cached;
#   under callgrind: valgrind --tool=callgrind --toggle-collect=cached_phase BUILD/bench/enrich_bench
#   127.0.0.1:PORT with a resolver such as this script's dnsmasq).
# Limits: traffic goes to 127.0.0.1 only; each run is bounded by smtpload's 300 s limit.

set -euo pipefail

BUILD=${1:-build}
MSGS=${MSGS:-30000}
CONC=${CONC:-50}
POOL=${POOL:-10000}
SRC_NET=${SRC_NET:-118.160.0.0}
ROUNDS=${ROUNDS:-5}
PORT=${BENCH_PORT:-25400}
DNS_PORT=$((PORT + 1))
RELAYTRAP=$(readlink -f "$BUILD/relaytrap")
SMTPLOAD=$(readlink -f "$BUILD/smtpload")
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
GEOIP=$(readlink -f "${GEOIP_DIR:-var/geoip}")
OUT=$(mktemp -d /tmp/relaytrap-enrich-bench.XXXXXX)

[ -x "$RELAYTRAP" ] && [ -x "$SMTPLOAD" ] || { echo "enrich.sh: build first (ninja -C $BUILD)" >&2; exit 1; }
[ -x "$DNSMASQ" ] || { echo "enrich.sh: needs dnsmasq (apt-get install dnsmasq-base)" >&2; exit 1; }
[[ $SRC_NET =~ ^([0-9]+)\.([0-9]+)\.0\.0$ ]] && [ "$POOL" -le 65536 ] ||
	{ echo "enrich.sh: SRC_NET must be A.B.0.0 and POOL at most 65536" >&2; exit 1; }
NA=${BASH_REMATCH[1]} NB=${BASH_REMATCH[2]}

PIDS=()
cleanup() {
	local p
	[ "$BASHPID" = "$$" ] || return 0 # not in a command substitution's subshell
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP:-}" ] || rm -rf "$OUT"
}
trap cleanup EXIT INT TERM

cat > "$OUT/dnsmasq.conf" <<EOF
port=$DNS_PORT
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
cache-size=10000
local=/spamhaus.org/
local=/spamcop.net/
local=/barracudacentral.org/
local=/arpa/
local=/example/
synth-domain=bench.example,$SRC_NET/16,h-
host-record=7.0.$NB.$NA.zen.spamhaus.org,127.0.0.4
host-record=8.0.$NB.$NA.zen.spamhaus.org,127.0.0.10
host-record=7.0.$NB.$NA.bl.spamcop.net,127.0.0.2
EOF
"$DNSMASQ" --keep-in-foreground --conf-file="$OUT/dnsmasq.conf" --pid-file= --user= \
	--log-facility="$OUT/dnsmasq.log" &
PIDS+=($!)
DNSPID=$!
sleep 0.5

# ENGINE: the engine's enrichment alone, in-process (bench/enrich_bench.c), against this dnsmasq
if [ -n "${ENGINE:-}" ]; then
	"$(dirname "$RELAYTRAP")/bench/enrich_bench" "127.0.0.1:$DNS_PORT" -n "$MSGS" -p "$POOL"
	exit 0
fi

printf 'proxy_from = 127.0.0.1/32\n[listener bench]\naddress = 127.0.0.1\nport = %s\nproxy_protocol = yes\n' \
	"$PORT" > "$OUT/relaytrap.conf"

# wait_enrich ENRICH DATA SESSIONS - with enrichment on, wait until SESSIONS sessions have their
# enrich event (in events.jsonl and the files it was rotated to: jsonl_rotate, 256M); at
# most 10 s (what is still pending at SIGTERM is recorded without its DNS kinds)
wait_enrich() {
	[ "$1" = yes ] || return 0
	for _ in $(seq 100); do
		[ "$(cat "$2"/events*.jsonl | grep -c '"kind":"session"' || true)" -ge "$3" ] && break
		sleep 0.1
	done
}

# run_once LABEL ENRICH - one relaytrap, one load run; prints "LABEL msgs/s" and DNS counters
run_once() {
	local label=$1 enrich=$2 data="$OUT/data-$1-$RANDOM" pid line rate
	mkdir -p "$data"
	# on: every kind of enrichment (GeoIP/ASN from the free databases when make geoip has
	# fetched them, the SYN fingerprint, DNS); off: none at all
	[ "$enrich" = yes ] && [ -d "$GEOIP" ] && ln -s "$GEOIP" "$data/geoip"
	"$RELAYTRAP" serve --data-dir "$data" --hostname mail.bench.example \
		--set delay_banner=0 --set delay_reply=0 --set delay_jitter=0 \
		--set max_sessions=100000 --set max_per_ip=100000 \
		--set enrich_dns="$enrich" --set enrich_geo="$enrich" --set enrich_os="$enrich" \
		--set resolver="127.0.0.1:$DNS_PORT" \
		--set dnsbl_zones="zen.spamhaus.org, bl.spamcop.net, b.barracudacentral.org" \
		--set dns_rate=1000000 --set dns_max_inflight=4096 --set enrich_max_pending=100000 \
		-c "$OUT/relaytrap.conf" \
		2> "$data/stderr.log" &
	pid=$!
	for _ in $(seq 100); do
		ss -ltn "sport = :$PORT" | grep -q LISTEN && break
		sleep 0.05
	done
	# CPU of the engine and the store process (utime+stime, clock ticks) per message
	local spid cpu_e cpu_s cpu_d cpu_e0=0 cpu_s0=0 cpu_d0 hz sessions=$MSGS
	hz=$(getconf CLK_TCK)
	# the resolver's CPU too: on these two cores it competes with relaytrap
	cpu_d0=$(awk '{print $14 + $15}' "/proc/$DNSPID/stat")
	# WARM: one session per source first (not measured), so every lookup of the measured load
	# is answered from the DNS cache
	if [ -n "${WARM:-}" ]; then
		"$SMTPLOAD" -P -s "$SRC_NET" -c "$CONC" -n "$POOL" -p "$POOL" "127.0.0.1:$PORT" > /dev/null || true
		sessions=$((MSGS + POOL))
		wait_enrich "$enrich" "$data" "$POOL"
		# the engine forks the store keeper, the keeper forks the store (docs/security.md)
		spid=$(pgrep -P "$(pgrep -P "$pid" | head -1)" | head -1 || true)
		cpu_e0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		cpu_s0=$( [ -n "$spid" ] && awk '{print $14 + $15}' "/proc/$spid/stat" || echo 0)
		cpu_d0=$(awk '{print $14 + $15}' "/proc/$DNSPID/stat")
	fi
	"$SMTPLOAD" -P -s "$SRC_NET" -c "$CONC" -n "$MSGS" -p "$POOL" "127.0.0.1:$PORT" > "$OUT/load.txt" || true
	line=$(cat "$OUT/load.txt")
	wait_enrich "$enrich" "$data" "$sessions"
	spid=$(pgrep -P "$(pgrep -P "$pid" | head -1)" | head -1 || true)
	cpu_e=$(( $(awk '{print $14 + $15}' "/proc/$pid/stat") - cpu_e0 ))
	cpu_s=$(( $( [ -n "$spid" ] && awk '{print $14 + $15}' "/proc/$spid/stat" || echo 0) - cpu_s0 ))
	cpu_d=$(( $(awk '{print $14 + $15}' "/proc/$DNSPID/stat") - cpu_d0 ))
	kill -TERM "$pid"
	wait "$pid" || true
	rate=$(sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
	printf '%-4s %s cpu_us_per_msg: engine=%d store=%d resolver=%d' "$label" "$line" \
		$((cpu_e * 1000000 / hz / MSGS)) $((cpu_s * 1000000 / hz / MSGS)) \
		$((cpu_d * 1000000 / hz / MSGS))
	if [ "$enrich" = yes ]; then
		local n
		n=$(cat "$data"/events*.jsonl | grep -c '"relaytrap.enrich"' || true)
		printf ' enrich_events=%s\n     %s' "$n" "$(grep -o 'dns: .*' "$data/stderr.log" || true)"
	fi
	printf '\n'
	echo "$label $rate $(((cpu_e + cpu_s + cpu_d) * 1000000 / hz / MSGS))" >> "$OUT/rates"
	[ -n "${KEEP:-}" ] || rm -rf "$data"
}

echo "relaytrap enrichment benchmark: $MSGS messages per run, $CONC connections, $POOL sources, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	run_once off no
	run_once on yes
done
python3 - "$OUT/rates" <<'EOF'
import statistics, sys
rates, pairs, off_now, cpu = {}, [], None, {}
for line in open(sys.argv[1]):
    k, v, c = (line.split() + ["", ""])[:3]
    rate = float(v) if v else None
    if rate is not None:
        rates.setdefault(k, []).append(rate)
        cpu.setdefault(k, []).append(int(c))
    if k == "off":
        off_now = rate
    elif off_now and rate is not None:
        pairs.append(rate / off_now)  # each "on" run against the "off" run just before it
off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
print(f"median msgs/s: off {off:.0f}, on {on:.0f}; on/off = {on / off:.3f} (target >= 0.90)")
# this machine's speed can drift between runs: the ratio of neighbouring runs is steadier
print("on/off per round: " + " ".join(f"{p:.3f}" for p in pairs) +
      f"; median {statistics.median(pairs):.3f}")
# CPU per message of relaytrap and the resolver together: what enrichment adds, less
# sensitive than msgs/s to how the two cores were scheduled
c_off, c_on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
print(f"median CPU per message (engine+store+resolver): off {c_off:.0f} us, on {c_on:.0f} us "
      f"(+{c_on - c_off:.0f} us)")
EOF
