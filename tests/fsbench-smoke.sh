#!/bin/sh
# fsbench smoke test: bench/fs/run-fsbench.sh with tiny sizes (FSBENCH_SIZE=
# smoke), one repetition, against the build tree's own binaries, on all
# three targets (a plain directory, passthrough_ll, lsmfs). Proves that the
# benchmark still builds, mounts, runs every workload, unmounts and writes
# a table with a row per workload and a number in every cell it should
# fill; the figures mean nothing here (sanitizer build, tiny sizes).
# Needs what make fsbench needs: root, /dev/fuse, fio, gnuplot, libfuse3-dev.
# shellcheck disable=SC2317 # finish runs from the EXIT trap
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
top_builddir=$(cd "$top_builddir" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsbench-smoke.XXXXXX") || exit 99
checks=0

finish() {
	rc=$?
	trap - EXIT
	# The driver unmounts in its own EXIT trap; this is the proof.
	left=$(findmnt -rn -o TARGET | grep -F "$tmp/" || true)
	if [ -n "$left" ]; then
		echo "fsbench-smoke: left mounted: $left"
		for m in $left; do
			fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m"
		done
		rc=1
	fi
	rm -rf "$tmp"
	if [ "$rc" -eq 0 ]; then
		echo "100%: Checks: $checks, Failures: 0, Errors: 0"
	else
		echo "0%: Checks: $checks, Failures: 1, Errors: 0"
	fi
	exit "$rc"
}
trap finish EXIT

fail() {
	echo "fsbench-smoke: $*"
	exit 1
}

checks=$((checks + 1))
start=$(date +%s)
FSBENCH_SIZE=smoke FSBENCH_NO_OPT=1 FSBENCH_DIR="$tmp/work" FSBENCH_OUT="$tmp/out" \
	FSBENCH_CMD="tests/fsbench-smoke.sh" \
	bash "$top_srcdir/bench/fs/run-fsbench.sh" "$top_srcdir" "$top_builddir" ||
	fail "run-fsbench.sh exited with $?"
echo "the driver ran in $(($(date +%s) - start)) s"

checks=$((checks + 1))
md=$tmp/out/fsbench.md
for f in fsbench.md fsbench.dat fsbench.png raw.tsv; do
	[ -s "$tmp/out/$f" ] || fail "$f is missing or empty"
done
cat "$md"

# Every workload has its row; the three targets have a number where they
# were measured (scale is lsmfs only), and the lsmfs ratios are numbers.
checks=$((checks + 1))
num='[0-9][0-9.]*'
for w in "create, flat" "stat cold, flat" "stat warm, flat" "ls -l (readdir+stat) cold, flat" \
	"rename, flat" "unlink, flat" "create, tree" "stat cold, tree" "stat warm, tree" \
	"ls -l (readdir+stat) cold, tree" "rename, tree" "unlink, tree" \
	"cp -a" "tar x" "find (cold)" "du -s (cold)" "grep -r (cold)" "rm -rf (cold)" \
	"sequential write 1M + fsync" "sequential read 1M, cold" "4 KiB random write + end fsync" \
	"4 KiB random read, cold" "4 KiB write + fsync each"; do
	r=$(grep -F "| $w |" "$md") || fail "no row '$w' in the table"
	echo "$r" | grep -Eq "^\| [^|]+ \| [^|]+ \| $num \| $num \| $num \| $num× \| $num× \|" ||
		fail "row '$w' lacks a number: $r"
done
for w in "same file written twice: disk used" "space back after delete" \
	"scale: last / first 10 %" "scale: daemon peak RSS (VmHWM)"; do
	r=$(grep -F "| $w |" "$md") || fail "no row '$w' in the table"
	echo "$r" | grep -Eq "\| $num \| [^|]* \| [^|]* \| [^|]+ \| (yes|no[^|]*) \|\$" ||
		fail "row '$w' lacks lsmfs's number or its verdict: $r"
done
for w in "scale: create rate, all" "scale: first 10 %" "scale: last 10 %"; do
	r=$(grep -F "| $w |" "$md") || fail "no row '$w' in the table"
	echo "$r" | grep -Eq "^\| [^|]+ \| [^|]+ \| – \| – \| $num \|" ||
		fail "row '$w' lacks lsmfs's number: $r"
done
[ "$(wc -l <"$tmp/out/fsbench.dat")" -ge 24 ] || fail "fsbench.dat has too few rows"
grep -q '^Machine: ' "$md" || fail "no machine line in the report"
exit 0
