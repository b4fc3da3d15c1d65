#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# bench/run.sh - side-by-side throughput of Postfix smtp-sink and relaytrap.
#
# Runs the same smtp-source load (1 and 50 sessions, 1 KiB and 100 KiB
# messages, one message per connection and many per connection) against
# smtp-sink and against relaytrap with full capture on, and prints messages/s,
# server CPU seconds (user+sys from /proc/PID/stat; engine + store for
# relaytrap) and peak RSS (VmHWM).  Afterwards it checks that relaytrap
# recorded every message (rows in relaytrap.db `messages`, `relaytrap.message`
# lines in events.jsonl).
#
# Usage: bench/run.sh [PATH-TO-RELAYTRAP]
# Environment: BENCH_PORT (first of two loopback ports, default 25300),
#   BENCH_SCALE (multiplies every message count, default 1),
#   BENCH_ONLY (run only configs whose name contains this string),
#   BENCH_OUT (directory for the CSV and logs, default a mktemp dir).
# Besides the settings that switch off the persona's delays and raise the
# session caps, relaytrap gets max_messages=100000 and max_commands=10000000:
# its defaults (100 messages, 1000 commands per connection) would end the
# many-per-connection runs with a 421.
# Limits: traffic goes to 127.0.0.1 only; every smtp-source run is bounded by
#   its message count and by a 180 s timeout; each data dir is removed after
#   its run is counted.

set -euo pipefail

RELAYTRAP=${1:-build/relaytrap}
PORT=${BENCH_PORT:-25300}
SINK_PORT=$PORT
RT_PORT=$((PORT + 1))
SCALE=${BENCH_SCALE:-1}
ONLY=${BENCH_ONLY:-}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/relaytrap-bench.XXXXXX)}
HZ=$(getconf CLK_TCK)
RUN_TIMEOUT=180

mkdir -p "$OUT"
RELAYTRAP=$(readlink -f "$RELAYTRAP")
[ -x "$RELAYTRAP" ] || { echo "run.sh: $RELAYTRAP is not executable" >&2; exit 1; }

# Each config: name sessions bytes per-conn(1)/many(d) messages.
CONFIGS=(
	"s1-1k-one     1  1024   1 2000"
	"s1-1k-many    1  1024   d 4000"
	"s50-1k-one    50 1024   1 20000"
	"s50-1k-many   50 1024   d 20000"
	"s1-100k-one   1  102400 1 1000"
	"s1-100k-many  1  102400 d 1000"
	"s50-100k-one  50 102400 1 3000"
	"s50-100k-many 50 102400 d 3000"
)

# Servers still running when the script stops (error or signal) are ended.
LIVE_PIDS=()
# cleanup - stop any server this script started and has not stopped yet.
cleanup() {
	local p
	for p in "${LIVE_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# install_postfix - get smtp-source/smtp-sink without leaving a running MTA.
install_postfix() {
	if [ -x /usr/sbin/smtp-source ] && [ -x /usr/sbin/smtp-sink ]; then
		return 0
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y postfix >"$OUT/apt.log" 2>&1
	systemctl stop postfix 2>/dev/null || true
	systemctl disable postfix 2>/dev/null || true
	postfix stop 2>/dev/null || true
}

# cpu_ticks - user+sys clock ticks of one pid; the comm field may hold spaces.
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# hwm_kib - peak resident set size (VmHWM) of one pid in KiB.
hwm_kib() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# store_pid - the store process under the engine PID: the engine forks the store keeper, the
# keeper forks the store (docs/security.md); waits up to 5 s for it to appear.
store_pid() {
	local i kpid spid
	for i in $(seq 1 50); do
		kpid=$(cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ' | awk '{ print $1 }')
		if [ -n "$kpid" ]; then
			spid=$(cat /proc/"$kpid"/task/*/children 2>/dev/null | tr -s ' \n' ' ' | awk '{ print $1 }')
			[ -n "$spid" ] && { echo "$spid"; return 0; }
		fi
		sleep 0.1
	done
	echo "run.sh: no store process under $1" >&2
	return 1
}

# wait_listen - wait (at most 10 s) until something listens on 127.0.0.1:PORT.
wait_listen() {
	local i
	for i in $(seq 1 100); do
		if ss -Hltn "sport = :$1" | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	echo "run.sh: nothing listens on port $1" >&2
	return 1
}

# wait_idle - wait (at most 30 s) until the given pids stop using CPU, so
# work a server finishes after the client is done is counted too.
wait_idle() {
	local prev now i
	prev=$(for p in "$@"; do cpu_ticks "$p"; done | paste -sd+ | bc)
	for i in $(seq 1 60); do
		sleep 0.5
		now=$(for p in "$@"; do cpu_ticks "$p"; done | paste -sd+ | bc)
		[ "$now" = "$prev" ] && return 0
		prev=$now
	done
}

# source_run - run smtp-source and print its wall time in seconds.
source_run() {
	local sess=$1 bytes=$2 mode=$3 msgs=$4 port=$5 t0 t1 dflag=()
	[ "$mode" = d ] && dflag=(-d)
	t0=$(date +%s.%N)
	timeout "$RUN_TIMEOUT" /usr/sbin/smtp-source "${dflag[@]}" -s "$sess" -l "$bytes" -m "$msgs" \
		-f bench@example.com -t rcpt@example.net -M bench.example.com "127.0.0.1:$port" \
		>>"$OUT/source.log" 2>&1 || echo "run.sh: smtp-source exited $?" >&2
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc -l
}

# bench_sink - one config against smtp-sink; prints "secs cpu_s rss_kib".
bench_sink() {
	local sess=$1 bytes=$2 mode=$3 msgs=$4 pid c0 c1 secs hwm
	/usr/sbin/smtp-sink -u nobody "127.0.0.1:$SINK_PORT" 1024 >>"$OUT/sink.log" 2>&1 &
	pid=$!
	LIVE_PIDS=("$pid")
	wait_listen "$SINK_PORT"
	c0=$(cpu_ticks "$pid")
	secs=$(source_run "$sess" "$bytes" "$mode" "$msgs" "$SINK_PORT")
	wait_idle "$pid"
	c1=$(cpu_ticks "$pid")
	hwm=$(hwm_kib "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	LIVE_PIDS=()
	echo "$secs $(echo "($c1 - $c0) / $HZ" | bc -l) $hwm"
}

# bench_rt - one config against relaytrap; prints
# "secs cpu_s rss_kib db_messages jsonl_messages sessions engine_cpu_s store_cpu_s".
bench_rt() {
	local sess=$1 bytes=$2 mode=$3 msgs=$4 dir pid spid c0 c1 secs hwm db js ss i
	dir="$OUT/data"
	rm -rf "$dir"
	mkdir -p "$dir"
	"$RELAYTRAP" serve --listen "127.0.0.1:$RT_PORT" --data-dir "$dir" \
		--set delay_banner=0 --set delay_reply=0 --set delay_jitter=0 \
		--set max_sessions=20000 --set max_per_ip=20000 \
		--set max_messages=100000 --set max_commands=10000000 -q >>"$OUT/relaytrap.log" 2>&1 &
	pid=$!
	LIVE_PIDS=("$pid")
	wait_listen "$RT_PORT"
	spid=$(store_pid "$pid") || return 1
	local e0 s0 e1 s1
	e0=$(cpu_ticks "$pid")
	s0=$(cpu_ticks "$spid")
	secs=$(source_run "$sess" "$bytes" "$mode" "$msgs" "$RT_PORT")
	wait_idle "$pid" "$spid"
	e1=$(cpu_ticks "$pid")
	s1=$(cpu_ticks "$spid")
	c0=$((e0 + s0))
	c1=$((e1 + s1))
	hwm=$(($(hwm_kib "$pid") + $(hwm_kib "$spid")))
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	LIVE_PIDS=()
	for i in $(seq 1 100); do
		[ -d "/proc/$spid" ] || break
		sleep 0.1
	done
	db=$(sqlite3 "$dir/relaytrap.db" 'SELECT count(*) FROM messages;')
	ss=$(sqlite3 "$dir/relaytrap.db" 'SELECT count(*) FROM sessions;')
	js=$(grep -c '"eventid":"relaytrap.message"' "$dir/events.jsonl" || true)
	rm -rf "$dir"
	echo "$secs $(echo "($c1 - $c0) / $HZ" | bc -l) $hwm $db $js $ss" \
		"$(echo "($e1 - $e0) / $HZ" | bc -l) $(echo "($s1 - $s0) / $HZ" | bc -l)"
}

install_postfix
for cmd in ss sqlite3 bc; do
	command -v "$cmd" >/dev/null || { echo "run.sh: needs $cmd" >&2; exit 1; }
done

csv="$OUT/results.csv"
echo "config,sessions,bytes,mode,messages,sink_msgs_s,sink_cpu_s,sink_rss_kib,rt_msgs_s,rt_cpu_s,rt_rss_kib,rt_db_messages,rt_jsonl_messages,rt_sessions,rt_engine_cpu_s,rt_store_cpu_s" >"$csv"
fail=0
for cfg in "${CONFIGS[@]}"; do
	read -r name sess bytes mode msgs <<<"$cfg"
	case "$name" in *"$ONLY"*) ;; *) continue ;; esac
	msgs=$((msgs * SCALE))
	# Not in $(...): the servers must be started by this shell so that
	# cleanup() sees them.
	bench_sink "$sess" "$bytes" "$mode" "$msgs" >"$OUT/one.txt"
	read -r s_secs s_cpu s_hwm <"$OUT/one.txt"
	bench_rt "$sess" "$bytes" "$mode" "$msgs" >"$OUT/one.txt"
	read -r r_secs r_cpu r_hwm r_db r_js r_ss r_ecpu r_scpu <"$OUT/one.txt"
	s_rate=$(echo "$msgs / $s_secs" | bc -l)
	r_rate=$(echo "$msgs / $r_secs" | bc -l)
	printf '%s,%s,%s,%s,%s,%.0f,%.2f,%s,%.0f,%.2f,%s,%s,%s,%s,%.2f,%.2f\n' "$name" "$sess" "$bytes" "$mode" \
		"$msgs" "$s_rate" "$s_cpu" "$s_hwm" "$r_rate" "$r_cpu" "$r_hwm" "$r_db" "$r_js" "$r_ss" \
		"$r_ecpu" "$r_scpu" >>"$csv"
	if [ "$r_db" != "$msgs" ] || [ "$r_js" != "$msgs" ]; then
		fail=1
	fi
	echo "done: $name" >&2
done

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "relaytrap: $RELAYTRAP   results: $csv"
echo
printf '%-14s %6s | %9s %7s %8s | %9s %17s %8s %6s | %-16s\n' config msgs "sink m/s" "CPU s" "RSS KiB" \
	"rt m/s" "CPU s (eng+store)" "RSS KiB" "rt/sk" "recorded db/jsonl"
tail -n +2 "$csv" | while IFS=, read -r name sess bytes mode msgs srate scpu shwm rrate rcpu rhwm rdb rjs rss recpu rscpu; do
	printf '%-14s %6s | %9s %7s %8s | %9s %17s %8s %5.0f%% | %s/%s of %s %s\n' "$name" "$msgs" "$srate" "$scpu" "$shwm" \
		"$rrate" "$rcpu ($recpu+$rscpu)" "$rhwm" "$(echo "100 * $rrate / $srate" | bc -l)" "$rdb" "$rjs" "$msgs" \
		"$([ "$rdb" = "$msgs" ] && [ "$rjs" = "$msgs" ] && echo OK || echo MISSING)"
done
exit "$fail"
