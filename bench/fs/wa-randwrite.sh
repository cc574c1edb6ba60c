#!/bin/bash
# wa-randwrite.sh BUILDDIR [SIZE] [SECONDS] — where the bytes of 4 KiB
# random writes go (docs/BENCHMARKS.md).
#
# Mounts a fresh data dir with that build (LSMFS_OPTS are added to the
# mount), writes a file of SIZE (default 1G) in 1 MiB blocks with an end
# fsync, waits for the engine to go idle, then runs fio 4 KiB random
# writes over it for SECONDS (default 10, end fsync) as fsbench's data
# group does, waits for idle again, and prints the daemon's bytes written
# (/proc/PID/io) per user byte, then each engine counter of lsmfs-stat
# that moved, as a total and per user byte: the WAL (patches and folded
# chunks), flushes, compaction, value-file collection. Root, /dev/fuse, fio.
set -u
. "$(dirname "$0")/idle-written.sh"
build=$(cd "$1" && pwd) || exit 2
size=${2:-1G}
secs=${3:-10}
work=$(mktemp -d /tmp/wa-randwrite.XXXXXX)
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null; sleep 1; rm -rf "$work"' EXIT
mkdir -p "$work/data" "$mnt"
"$build/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
# shellcheck disable=SC2086 # LSMFS_OPTS is a list of words
"$build/fs/lsmfs" "$work/data" "$mnt" ${LSMFS_OPTS:-} || exit 1
pid=$(pgrep -n -f "lsmfs.*$work/data") || exit 1

# The engine counters of lsmfs-stat --json, one "name value" a line.
engine() {
	"$build/fs/lsmfs-stat" --json "$mnt" |
		sed 's/.*"engine":{\([^}]*\)}.*/\1/' | tr ',' '\n' | tr -d '"' | tr ':' ' '
}

fio --name=fill --directory="$mnt" --filename=f --rw=write --bs=1M --size="$size" \
	--ioengine=psync --end_fsync=1 --output-format=terse >/dev/null 2>&1 || exit 1
w0=$(idle_written "$pid")
engine >"$work/e0"
fio --name=rw --directory="$mnt" --filename=f --rw=randwrite --bs=4k --size="$size" \
	--ioengine=psync --runtime="$secs" --time_based --end_fsync=1 --output-format=terse \
	--terse-version=3 >"$work/rw.out" 2>/dev/null || exit 1
kb=$(awk -F';' '{ print $47 }' "$work/rw.out")
w1=$(idle_written "$pid")
engine >"$work/e1"
awk -v a="$w0" -v b="$w1" -v u="$kb" 'BEGIN {
	printf "user MiB %.1f, daemon bytes written per user byte %.3f\n", u / 1024, (b - a) / u / 1024 }'
# The same counters in the same order in both snapshots.
paste -d' ' "$work/e0" "$work/e1" | awk -v u="$kb" '$4 != $2 {
	printf "%-28s %14d  %.3f per user byte\n", $1, $4 - $2, ($4 - $2) / u / 1024 }'
