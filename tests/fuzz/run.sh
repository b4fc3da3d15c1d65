#!/bin/sh
# SPDX-License-Identifier: ISC
# run.sh - build and run relaytrap's libFuzzer targets (docs/fuzzing.md).
#
#   tests/fuzz/run.sh build                  clang build with -Dfuzz=true in $FUZZ_BUILD
#   tests/fuzz/run.sh replay [TARGET...]     run every stored input once (regression check)
#   tests/fuzz/run.sh short [TARGET...]      replay, then fuzz each target $FUZZ_SHORT_SECONDS
#   tests/fuzz/run.sh long [TARGET...]       fuzz each target $FUZZ_SECONDS, one after the other,
#                                            at nice 19, adding a line per target to the tally
#   tests/fuzz/run.sh merge [TARGET...]      add the inputs of the work corpus that reach new
#                                            coverage to tests/fuzz/corpus/TARGET (-merge=1)
#   tests/fuzz/run.sh tally                  print the tally of the long runs
#
# Work corpora, crash artifacts, logs and the tally live in $FUZZ_BUILD/fuzz-work/TARGET/; the
# work corpus is kept between runs, so repeated long runs add up. Any crash, leak, timeout or
# sanitizer report makes the command fail and leaves the input in .../artifacts/.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ_BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-1800}
FUZZ_SHORT_SECONDS=${FUZZ_SHORT_SECONDS:-20}
ALL_TARGETS="session addr auth proxy persona config store bodyscan syn"
WORK=$FUZZ_BUILD/fuzz-work
TALLY=$WORK/tally.tsv

# a smaller quarantine than the default 256 MiB: fresh pages for every allocation cost more
# time than the use-after-free window buys here
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1:quarantine_size_mb=64}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

die() {
	echo "run.sh: $*" >&2
	exit 1
}

# max_len - the longest input worth trying per target (bytes)
max_len() {
	case $1 in
	session | bodyscan) echo 8192 ;;
	store | syn) echo 65536 ;;
	persona) echo 16384 ;;
	proxy | config) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

bin() {
	b=$FUZZ_BUILD/tests/fuzz/fuzz_$1
	[ -x "$b" ] || die "$b missing: run 'tests/fuzz/run.sh build' (or make fuzz-build) first"
	echo "$b"
}

targets() {
	if [ $# -eq 0 ]; then
		echo "$ALL_TARGETS"
		return
	fi
	for t in "$@"; do
		case " $ALL_TARGETS " in
		*" $t "*) ;;
		*) die "unknown target '$t' (targets: $ALL_TARGETS)" ;;
		esac
	done
	echo "$*"
}

cmd_build() {
	command -v clang >/dev/null || die "clang not found (apt-get install clang libclang-rt-dev)"
	if [ ! -f "$FUZZ_BUILD/build.ninja" ]; then
		CC=clang meson setup "$FUZZ_BUILD" "$ROOT" -Dfuzz=true -Dwerror=true \
			-Db_lundef=false -Dbuildtype=debugoptimized
	fi
	ninja -C "$FUZZ_BUILD"
}

cmd_replay() {
	for t in $(targets "$@"); do
		printf 'replay %-8s ' "$t"
		"$(bin "$t")" -runs=0 "$ROOT/tests/fuzz/corpus/$t" >"$WORK/replay-$t.log" 2>&1 ||
			{ cat "$WORK/replay-$t.log" >&2; die "replay of $t crashed"; }
		grep -o 'INITED.*' "$WORK/replay-$t.log" | head -n 1
	done
}

# lowprio KIND NICE CMD... - run CMD at nice NICE; a long run also in a session of its own whose
# autogroup is niced (setsid, /proc/self/autogroup): with the kernel's autogroups, nice only
# ranks the processes of one session against each other, and a nice-19 fuzzer in a session of
# its own still took a whole core from everything else. The user's own session is untouched.
lowprio() {
	kind=$1
	n=$2
	shift 2
	if [ "$kind" = long ] && [ -e /proc/self/autogroup ] && command -v setsid >/dev/null; then
		setsid -w sh -c 'echo "$0" >/proc/self/autogroup 2>/dev/null; exec nice -n "$0" "$@"' \
			"$n" "$@"
	else
		nice -n "$n" "$@"
	fi
}

# fuzz_one TARGET SECONDS NICE KIND - fuzz the work corpus for SECONDS; fails on a finding. A
# long run goes on after a finding (libFuzzer stops at the first), until its time is used.
fuzz_one() {
	t=$1
	secs=$2
	w=$WORK/$t
	mkdir -p "$w/corpus" "$w/artifacts"
	dict=""
	[ -f "$ROOT/tests/fuzz/dict/$t.dict" ] && dict="-dict=$ROOT/tests/fuzz/dict/$t.dict"
	before=$(ls "$w/artifacts" | wc -l)
	start=$(date +%s)
	left=$secs
	execs=0
	rc=0
	while [ "$left" -gt 0 ]; do
		log=$w/fuzz-$(date -u +%Y%m%dT%H%M%SZ).log
		r=0
		# shellcheck disable=SC2086
		lowprio "$4" "$3" "$(bin "$t")" "$w/corpus" "$ROOT/tests/fuzz/corpus/$t" $dict \
			-max_total_time="$left" -max_len="$(max_len "$t")" -timeout=20 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$w/artifacts/" \
			>"$log" 2>&1 || r=$?
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		[ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
		execs=$((execs + ${n:-0}))
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
		if [ "$r" -ne 0 ]; then
			rc=$r
			grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" >&2 ||
				tail -n 30 "$log" >&2
			[ "$4" = long ] || break
		fi
		left=$((secs - ($(date +%s) - start)))
	done
	after=$(ls "$w/artifacts" | wc -l)
	ncorp=$(ls "$w/corpus" | wc -l)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" \
		"$(($(date +%s) - start))" "$execs" "$ncorp" "${cov:-0}" "$((after - before))" \
		>>"$TALLY.$4"
	printf '%-8s %5ss  execs %-10s corpus %-6s cov %-6s new findings %s  (%s)\n' "$t" \
		"$(($(date +%s) - start))" "$execs" "$ncorp" "${cov:-0}" "$((after - before))" "$w"
	[ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]
}

cmd_fuzz() {
	secs=$1
	niceness=$2
	kind=$3
	shift 3
	failed=""
	for t in $(targets "$@"); do
		fuzz_one "$t" "$secs" "$niceness" "$kind" || failed="$failed $t"
	done
	[ -z "$failed" ] || die "findings in:$failed (inputs in $WORK/TARGET/artifacts/)"
}

cmd_merge() {
	for t in $(targets "$@"); do
		[ -d "$WORK/$t/corpus" ] || continue
		n0=$(ls "$ROOT/tests/fuzz/corpus/$t" | wc -l)
		# edges only (no hit counts): the few inputs that reach new code, not the many
		# that only reach it more often, so the repository corpus stays small
		"$(bin "$t")" -merge=1 -use_counters=0 -max_len="$(max_len "$t")" \
			"$ROOT/tests/fuzz/corpus/$t" \
			"$WORK/$t/corpus" >"$WORK/merge-$t.log" 2>&1 ||
			{ tail -n 20 "$WORK/merge-$t.log" >&2; die "merge of $t failed"; }
		n1=$(ls "$ROOT/tests/fuzz/corpus/$t" | wc -l)
		echo "merge $t: $n0 -> $n1 inputs ($(du -sb "$ROOT/tests/fuzz/corpus/$t" | cut -f1) bytes)"
	done
}

cmd_tally() {
	[ -f "$TALLY.long" ] || die "no long runs yet ($TALLY.long)"
	awk -F'\t' '{ s[$2] += $3; e[$2] += $4; c[$2] = $5; v[$2] = $6; f[$2] += $7 }
	    END { printf "%-8s %8s %12s %7s %6s %8s\n", "target", "seconds", "execs", "corpus", "cov", "findings"
	          for (t in s) printf "%-8s %8d %12d %7d %6d %8d\n", t, s[t], e[t], c[t], v[t], f[t] }' \
		"$TALLY.long"
}

[ $# -ge 1 ] || die "usage: run.sh build|replay|short|long|merge|tally [TARGET...]"
what=$1
shift
mkdir -p "$WORK"
case $what in
build) cmd_build ;;
replay) cmd_replay "$@" ;;
short)
	cmd_replay "$@"
	cmd_fuzz "$FUZZ_SHORT_SECONDS" 0 short "$@"
	;;
long) cmd_fuzz "$FUZZ_SECONDS" 19 long "$@" ;;
merge) cmd_merge "$@" ;;
tally) cmd_tally ;;
*) die "unknown command '$what' (build|replay|short|long|merge|tally)" ;;
esac
