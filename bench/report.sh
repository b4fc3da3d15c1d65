#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
#
# bench/report.sh - the scale benchmark of the read side: generate a capture of N sessions,
# import it, and run `relaytrap report` in every format over the result.
#
# Prints, one line per step: the generator's wall time and size; the import's events/s (from
# its own summary) with wall time, CPU seconds and peak RSS; then for each report format its
# wall time, CPU seconds, peak RSS and output size (from /usr/bin/time -v). On a shared machine
# the events per CPU second of the import is the steadier figure; the import also prints the CPU
# of its two threads (reading and parsing, applying), the larger of which bounds its wall time on
# an otherwise idle machine. The capture comes from build/bench/gen_capture when it exists
# (bench/gen_capture.c), else from bench/gen_capture.py. Targets:
# import >= 100,000 events/s, report < 10 s and < 512 MiB RSS per format.
#
# Usage: bench/report.sh [PATH-TO-RELAYTRAP]
# Environment: BENCH_SESSIONS (default 1000000), BENCH_OUT (work directory, default a mktemp
#   dir; the capture is kept there and reused when its size matches), BENCH_SEED (default 1),
#   BENCH_FORMATS (default "text json html csv"), BENCH_DB (an existing database, e.g. one made
#   by bench/replicate_db.py: no generating or importing, only the reports), BENCH_RUNS
#   (reports per format, default 1: on a shared machine run several and compare CPU).
# Limits: everything is local files; nothing touches the network. The capture of 1M sessions
#   is about 8 GB, the database about 4 GB: BENCH_OUT needs room for both.

set -euo pipefail

RELAYTRAP=$(readlink -f "${1:-build/relaytrap}")
N=${BENCH_SESSIONS:-1000000}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/relaytrap-report-bench.XXXXXX)}
SEED=${BENCH_SEED:-1}
FORMATS=${BENCH_FORMATS:-text json html csv}
HERE=$(cd "$(dirname "$0")" && pwd)

RUNS=${BENCH_RUNS:-1}
mkdir -p "$OUT"
CAPTURE="$OUT/events-$N-$SEED.jsonl"
DB=${BENCH_DB:-$OUT/relaytrap.db}

# field NAME FILE - one value from /usr/bin/time -v output
field() {
	sed -n "s/^[[:space:]]*$1: //p" "$2" | head -1
}

# cpu FILE - user + system seconds from /usr/bin/time -v output
cpu() {
	awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {printf "%.2f", u + s}' "$1"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "relaytrap: $RELAYTRAP"
echo "work dir: $OUT"

if [ -z "${BENCH_DB:-}" ]; then
	if [ -s "$CAPTURE" ]; then
		echo "generate: reusing $CAPTURE ($(du -h "$CAPTURE" | cut -f1))"
	else
		# The C generator (built next to relaytrap) when there is one; the Python one is slower.
		GEN=$(dirname "$RELAYTRAP")/bench/gen_capture
		if [ -x "$GEN" ]; then
			set -- "$GEN"
		else
			set -- python3 "$HERE/gen_capture.py"
		fi
		/usr/bin/time -v -o "$OUT/gen.time" "$@" -n "$N" --seed "$SEED" \
			-o "$CAPTURE" 2> "$OUT/gen.log"
		echo "generate: $N sessions with $(basename "$1"), $(tail -1 "$OUT/gen.log" | sed 's/^gen_capture: //'), wall $(field 'Elapsed (wall clock) time (h:mm:ss or m:ss)' "$OUT/gen.time"), cpu $(cpu "$OUT/gen.time") s"
	fi

	rm -f "$DB" "$DB-wal" "$DB-shm"
	/usr/bin/time -v -o "$OUT/import.time" "$RELAYTRAP" import -q --db "$DB" "$CAPTURE" > "$OUT/import.log"
	sed 's/^relaytrap import: /import: /' "$OUT/import.log"
	applied=$(sed -n "s/.*lines, \([0-9]*\) events applied.*/\1/p" "$OUT/import.log")
	icpu=$(cpu "$OUT/import.time")
	echo "import: wall $(field 'Elapsed (wall clock) time (h:mm:ss or m:ss)' "$OUT/import.time"), cpu $icpu s ($(awk -v a="$applied" -v c="$icpu" 'BEGIN {printf "%.0f", (c > 0 ? a / c : 0)}') events per CPU second), peak RSS $(field 'Maximum resident set size (kbytes)' "$OUT/import.time") KiB, db $(du -h "$DB" | cut -f1)"
	sessions=$(sqlite3 "$DB" 'SELECT count(*) FROM sessions')
	echo "db: $sessions sessions, $(sqlite3 "$DB" 'SELECT count(*) FROM commands') commands, $(sqlite3 "$DB" 'SELECT count(*) FROM messages') messages"
else
	echo "db: $DB (given), $(du -h "$DB" | cut -f1), $(sqlite3 "$DB" 'SELECT count(*) FROM sessions') sessions"
fi

if ! "$RELAYTRAP" report --help > /dev/null 2>&1; then
	echo "report: this relaytrap has no report subcommand; skipped"
	exit 0
fi
# Each report prints its parts (RELAYTRAP_REPORT_TIMING: wall and thread CPU of the sessions,
# commands and messages parts, which run on three threads) after the totals.
for fmt in $FORMATS; do
	ext=$fmt
	[ "$fmt" = text ] && ext=txt
	out="$OUT/report.$ext"
	for run in $(seq "$RUNS"); do
		rm -rf "$out"
		status=ok
		load=$(cut -d' ' -f1 /proc/loadavg)
		RELAYTRAP_REPORT_TIMING=1 /usr/bin/time -v -o "$OUT/report-$fmt.time" \
			"$RELAYTRAP" report --db "$DB" --format "$fmt" -q -o "$out" > /dev/null \
			2> "$OUT/report-$fmt.err" || status="FAILED (see $OUT/report-$fmt.err)"
		echo "report $fmt: $status, load $load, wall $(field 'Elapsed (wall clock) time (h:mm:ss or m:ss)' "$OUT/report-$fmt.time"), cpu $(cpu "$OUT/report-$fmt.time") s, peak RSS $(field 'Maximum resident set size (kbytes)' "$OUT/report-$fmt.time") KiB, output $(du -sh "$out" 2> /dev/null | cut -f1)"
		awk '$1 == "report:" && $5 == "wall" && $8 == "cpu" {printf "  %s %s s cpu (%s s wall)", $2, $6, $3} END {print ""}' "$OUT/report-$fmt.err"
	done
done
