#!/bin/sh
# lsm-bench smoke test: every workload, a few thousand operations, liblsm
# only, one repetition. Proves the benchmark still builds, runs, checks the
# values it reads back, and writes its three report files; the figures
# themselves mean nothing here (sanitizer build, tiny db).
set -u
bench="${top_builddir:-.}/bench/lsm-bench"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "bench-smoke: $*"
	echo "0 passed, 1 failed"
	exit 1
}

"$bench" --engines=liblsm --num=3000 --sync-num=64 --reps=1 --timeout=600 \
	--dir="$tmp/db" --out="$tmp/smoke" || fail "lsm-bench exited with $?"
for f in smoke.md smoke.dat smoke.raw.tsv; do
	[ -s "$tmp/$f" ] || fail "$f is missing or empty"
done
for wl in fillseq fillrandom overwrite readrandom readmissing readseq readreverse \
	seekrandom deleterandom readwhilewriting fillsync-1t fillsync-8t; do
	grep -q "^| $wl |" "$tmp/smoke.md" || fail "no $wl row in the report"
done
[ -z "$(ls -A "$tmp/db")" ] || fail "databases left behind in $tmp/db"
echo "1 passed, 0 failed"
