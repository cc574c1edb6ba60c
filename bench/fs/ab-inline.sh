#!/bin/bash
# ab-inline.sh BUILDDIR [REPS] [LIMITS] — small files under different
# inline limits (-o inline=N), in alternation (docs/BENCHMARKS.md).
#
# Each run: mkfs.lsmfs and mount a fresh data dir with that limit, untar
# a tarball of /usr/include (made once, read from /dev/shm) with an fsync
# at the end, wait for the engine to go idle, unmount; remount, drop the
# page cache and read every file (cat). Prints "inline N tar_s S read_s S
# written_mib M keys K" per run: tar's wall time to the end of its sync,
# the cold read's, the daemon's bytes written (/proc/PID/io, idle after)
# and the engine keys of the data dir (lsmctl scan). LIMITS (default
# "0 1024 4032") are the limits to compare. Root, /dev/fuse and tar.
set -u
. "$(dirname "$0")/idle-written.sh"
build=$(cd "$1" && pwd) || exit 2
reps=${2:-3}
limits=${3:-0 1024 4032}
work=$(mktemp -d /tmp/ab-inline.XXXXXX)
mnt=$work/mnt
tarball=/dev/shm/ab-inline-include.tar
trap 'fusermount3 -u "$mnt" 2>/dev/null; rm -rf "$work" "$tarball"' EXIT
mkdir -p "$mnt"
tar -C /usr -cf "$tarball" include || exit 1

now() { date +%s.%N; }
mount_it() {
	"$build/fs/lsmfs" "$work/data" "$mnt" -o inline="$1" || exit 1
	pid=$(pgrep -n -f "lsmfs.*$work/data") || exit 1
}
umount_it() {
	fusermount3 -u "$mnt"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
run() {
	rm -rf "$work/data" && mkdir -p "$work/data"
	"$build/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
	mount_it "$1"
	t0=$(now)
	tar -C "$mnt" -xf "$tarball" && sync -f "$mnt" || exit 1
	t1=$(now)
	w=$(idle_written "$pid")
	umount_it
	keys=$("$build/lsm/lsmctl" "$work/data" scan | wc -l)
	mount_it "$1"
	sync && echo 3 >/proc/sys/vm/drop_caches
	t2=$(now)
	find "$mnt" -type f -exec cat {} + >/dev/null || exit 1
	t3=$(now)
	umount_it
	awk -v l="$1" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v w="$w" -v k="$keys" 'BEGIN {
		printf "inline %s tar_s %.2f read_s %.2f written_mib %.1f keys %d\n",
			l, b - a, d - c, w / 1048576, k }'
}
for _ in $(seq 1 "$reps"); do
	for l in $limits; do
		run "$l"
	done
done
