#!/bin/bash
# reqcount.sh BUILDDIR [N] — FUSE requests per system call, lsmfs beside
# passthrough_ll (docs/BENCHMARKS.md, "Requests per system call").
#
# Each daemon runs in the foreground with -d, which prints one line per
# request ("opcode: NAME"); metabench (BUILDDIR/bench/fs/metabench) then
# makes N (default 200) of each call on it: create (open O_CREAT|O_EXCL +
# close), stat of a path not in the kernel's cache (after a remount),
# rename, unlink; and a 4 KiB pwrite into an existing file followed by
# fsync, N times (dd conv=notrunc,fsync: open, write, fsync, close; phase
# owfc). For each phase and
# daemon it prints the requests per call and their mix:
#
#   PHASE TARGET PER_CALL  OPCODE=COUNT ...
#
# LSMFS_OPTS, if set, is passed to lsmfs as -o LSMFS_OPTS (writeback=off,
# say). Root, /dev/fuse and libfuse3-dev's examples (passthrough_ll.c) are
# needed.
# WORK (default: a new temp dir) holds the data dirs and mount points.
set -u
b=$(cd "$1" && pwd) || exit 2
n=${2:-200}
work=${WORK:-$(mktemp -d /tmp/reqcount.XXXXXX)}
mnt=$work/mnt
examples=/usr/share/doc/libfuse3-dev/examples
pid=""
stop() {
	[ -n "$pid" ] || return 0
	fusermount3 -u "$mnt" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
}
trap 'stop; rm -rf "$work/data" "$work/back"' EXIT
mkdir -p "$mnt" || exit 1
pt=$work/passthrough_ll
[ -x "$pt" ] || cc -O2 -I"$examples" -o "$pt" "$examples/passthrough_ll.c" \
	$(pkg-config --cflags --libs fuse3) || exit 1
mb=$b/bench/fs/metabench
[ -x "$mb" ] || { echo "$mb is not built (make -C $b bench/fs/metabench)" >&2; exit 1; }

start() { # target: mounts it on $mnt, its requests going to $work/$1.log
	if [ "$1" = lsmfs ]; then
		"$b/fs/lsmfs" -d "$work/data" "$mnt" ${LSMFS_OPTS:+-o "$LSMFS_OPTS"} \
			>"$work/$1.log" 2>&1 &
	else
		"$pt" -d -o source="$work/back" "$mnt" >"$work/$1.log" 2>&1 &
	fi
	pid=$!
	for _ in $(seq 1 100); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	echo "$1 did not mount" >&2
	exit 1
}
mark() { wc -l <"$work/$1.log"; }
# Prints the requests logged since line $3 of target $2's log for phase $1.
count() {
	sleep 0.5 # the daemon logs after it replies
	tail -n +"$(($3 + 1))" "$work/$2.log" | grep -o 'opcode: [A-Z_]*' | awk '{ print $2 }' |
		sort | uniq -c | awk -v p="$1" -v t="$2" -v n="$n" '
		{ mix = mix sprintf(" %s=%d", $2, $1); total += $1 }
		END { printf "%-8s %-14s %5.2f %s\n", p, t, total / n, mix }'
}

for t in passthrough_ll lsmfs; do
	rm -rf "$work/data" "$work/back" && mkdir -p "$work/data" "$work/back" || exit 1
	[ "$t" = lsmfs ] && { "$b/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1; }
	start "$t"
	mkdir "$mnt/d" && : >"$mnt/f" || exit 1
	m=$(mark "$t"); "$mb" create -n "$n" "$mnt/d" >/dev/null || exit 1; count create "$t" "$m"
	stop; start "$t"
	m=$(mark "$t"); "$mb" stat -n "$n" "$mnt/d" >/dev/null || exit 1; count stat "$t" "$m"
	m=$(mark "$t"); "$mb" rename -n "$n" "$mnt/d" >/dev/null || exit 1; count rename "$t" "$m"
	m=$(mark "$t"); "$mb" unlink -r -n "$n" "$mnt/d" >/dev/null || exit 1; count unlink "$t" "$m"
	m=$(mark "$t")
	for i in $(seq 0 $((n - 1))); do
		dd if=/dev/zero of="$mnt/f" bs=4k count=1 seek="$i" conv=notrunc,fsync status=none || exit 1
	done
	count owfc "$t" "$m"
	stop
done
