#!/bin/bash
# ab-randread.sh A_BUILDDIR B_BUILDDIR [REPS] — cold 4 KiB random reads on
# lsmfs, one build against another in alternation (docs/BENCHMARKS.md).
#
# Each run: mkfs.lsmfs and mount a fresh data dir with that build's
# fs/lsmfs, write a 512 MiB file with fio (1 MiB writes, end fsync),
# remount, drop the page cache, then fio randread 4 KiB for 8 s; prints
# "A iops N" / "B iops N". Root, /dev/fuse and fio are needed. WORK
# (default: a new temp dir) holds the data dir and mount point.
set -u
a=$(cd "$1" && pwd) || exit 2
b=$(cd "$2" && pwd) || exit 2
reps=${3:-3}
work=${WORK:-$(mktemp -d /tmp/ab-randread.XXXXXX)}
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null; rm -rf "$work/data"' EXIT

run() {
	fusermount3 -u "$mnt" 2>/dev/null
	rm -rf "$work/data" && mkdir -p "$work/data" "$mnt" || exit 1
	"$1/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
	"$1/fs/lsmfs" "$work/data" "$mnt" || exit 1
	fio --name=fill --directory="$mnt" --filename=f --rw=write --bs=1M --size=512M \
		--ioengine=psync --end_fsync=1 --output-format=terse >/dev/null 2>&1 || exit 1
	fusermount3 -u "$mnt" && "$1/fs/lsmfs" "$work/data" "$mnt" || exit 1
	sync && echo 3 >/proc/sys/vm/drop_caches
	# terse v3 field 8: read IOPS
	fio --name=rr --directory="$mnt" --filename=f --rw=randread --bs=4k --size=512M \
		--ioengine=psync --runtime=8s --time_based --output-format=terse \
		--terse-version=3 2>/dev/null | awk -F';' -v t="$2" '{ print t, "iops", $8 }'
	fusermount3 -u "$mnt"
}
for _ in $(seq 1 "$reps"); do
	run "$a" A
	run "$b" B
done
