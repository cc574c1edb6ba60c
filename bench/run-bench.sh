#!/bin/sh
# run-bench.sh SRCDIR BUILDDIR — what `make bench` runs.
#
# 1. Configures and builds an optimised tree (-O2, no sanitizers) in
#    BUILDDIR/bench-opt: the tree `make bench` is typed in may be a
#    sanitizer build, where liblsm runs several times slower and its
#    figures would mean nothing. Only lsm-bench and liblsm are built there.
# 2. Runs lsm-bench six times: the main run (100-byte values, every
#    workload, no compression), the same values with each engine's fast
#    compression, 4 KiB and 64 KiB values on fewer keys, and those two
#    again with value separation at 4096 bytes (liblsm's blob_threshold,
#    and RocksDB with blob files as a fourth engine, rocksdb-blob).
# 3. Writes BUILDDIR/bench-results/: each run's .md/.dat/.raw.tsv, a
#    gnuplot chart per run (.png), and BENCHMARKS-table.md, the section
#    docs/BENCHMARKS.md quotes, headed by the command and the machine.
#
# Environment: BENCH_NUM (default 1000000), BENCH_REPS (3), BENCH_ARGS
# (extra lsm-bench options for every run), MAKE (default make).
# The build is bench/build-optimised.sh's, shared with make fsbench.
set -eu
srcdir=$1
builddir=$2
num=${BENCH_NUM:-1000000}
reps=${BENCH_REPS:-3}
args=${BENCH_ARGS:-}
out="$builddir/bench-results"

say() { printf '== %s\n' "$*" >&2; }
started=$(date +%s)

# ---- 1. the optimised tree ----
# shellcheck source=bench/build-optimised.sh
. "$srcdir/bench/build-optimised.sh"
build_optimised "$srcdir" "$builddir" bench-opt bench/lsm-bench || exit 1
obj=$opt_tree
bench="$obj/bench/lsm-bench"

# ---- peers ----
engines=$("$bench" --list-engines | tr '\n' ' ')
missing=""
case " $engines " in *" leveldb "*) ;; *) missing="$missing libleveldb-dev" ;; esac
case " $engines " in *" rocksdb "*) ;; *) missing="$missing librocksdb-dev" ;; esac
if [ -n "$missing" ]; then
	say "peer engine(s) missing; the comparison runs without them. To add them:"
	say "    apt-get install$missing   (then run make bench again: it reconfigures)"
	# Configure again next time, so that peers installed meanwhile are found.
	rm -f "$obj/config.status"
fi

# ---- 2. the runs ----
mkdir -p "$out"
db="$out/db"
common="--reps=$reps --dir=$db $args"
run() {
	name=$1
	shift
	say "lsm-bench $* ($name)"
	# shellcheck disable=SC2086 # $common is a word list on purpose
	{
		"$bench" $common --out="$out/$name" "$@" 2>&1
		echo $? >"$out/$name.rc"
	} | tee "$out/$name.log" >&2
	return "$(cat "$out/$name.rc")"
}
status=0
run main --num="$num" --title="100-byte values, no compression" || status=1
run fast --num="$num" --compression=fast \
	--benchmarks=fillrandom,overwrite,readrandom,readseq \
	--title="100-byte values, each engine's fast compression" || status=1
run v4k --num=$((num / 16)) --value-size=4096 \
	--benchmarks=fillseq,fillrandom,overwrite,readrandom,readseq \
	--title="4 KiB values, no compression, num/16 keys" || status=1
run v64k --num=$((num / 256)) --value-size=65536 \
	--benchmarks=fillseq,fillrandom,overwrite,readrandom,readseq \
	--title="64 KiB values, no compression, num/256 keys" || status=1
vsep=fillseq,fillrandom,overwrite,readrandom,readseq,seekrandom,overwrite2x
run vs64k --num=$((num / 64)) --value-size=65536 --blob-threshold=4096 --benchmarks=$vsep \
	--title="64 KiB values, value separation at 4096 bytes, num/64 keys" || status=1
run vs4k --num=$((num / 8)) --value-size=4096 --blob-threshold=4096 --benchmarks=$vsep \
	--title="4 KiB values, value separation at 4096 bytes, num/8 keys" || status=1
rmdir "$db" 2>/dev/null || true

# ---- 3. charts and the table file ----
if command -v gnuplot >/dev/null 2>&1; then
	for name in main fast v4k v64k vs64k vs4k; do
		[ -s "$out/$name.dat" ] || continue
		blob=0
		case $name in vs*) blob=1 ;; esac
		gnuplot -e "datafile='$out/$name.dat'; outfile='$out/$name.png'; blob=$blob" \
			"$srcdir/bench/lsm-bench.gp" || status=1
	done
else
	say "gnuplot not found: no charts (apt-get install gnuplot-nox)"
fi

table="$out/BENCHMARKS-table.md"
{
	echo "## Results"
	echo
	echo "Command: \`make bench BENCH_NUM=$num BENCH_REPS=$reps${args:+ BENCH_ARGS='$args'}\`" \
		"(lsm-bench built with -O2, no sanitizers), $(date -u '+%Y-%m-%d %H:%M UTC')," \
		"$((($(date +%s) - started + 30) / 60)) minutes in all."
	rev=$(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || true)
	if [ -n "$rev" ]; then
		echo "Source: commit $rev."
	fi
	echo
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	fs=$(df -T "$out" | awk 'NR == 2 { print $2 }')
	echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, $mem RAM, $fs file system;" \
		"$(uname -sr); $(cc --version | head -n 1)."
	peers=""
	for p in libleveldb-dev librocksdb-dev; do
		v=$(dpkg-query -W -f '${Version}' "$p" 2>/dev/null || true)
		if [ -n "$v" ]; then
			peers="$peers${peers:+, }$p $v"
		fi
	done
	echo "Peers: ${peers:-none}."
	echo
	for name in main fast v4k v64k vs64k vs4k; do
		[ -s "$out/$name.md" ] || continue
		cat "$out/$name.md"
		if [ -s "$out/$name.png" ]; then
			echo "Chart: \`bench-results/$name.png\`."
			echo
		fi
	done
} >"$table"
say "wrote $table"
exit $status
