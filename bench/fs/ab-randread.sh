#!/bin/bash
# ab-randread.sh A_BUILDDIR B_BUILDDIR [REPS] — cold 4 KiB random reads on
# lsmfs, one build against another in alternation (docs/BENCHMARKS.md).
#
# Each run: mkfs.lsmfs and mount a fresh data dir with that build's
# fs/lsmfs, write a file of SIZE (default 512M) with fio (1 MiB writes, end fsync),
# with RANDWRITE=S (default 0) then 4 KiB random writes for S seconds
# (small writes become patches, as in fsbench's data group), remount, drop
# the page cache, then fio randread 4 KiB for 8 s; prints "A iops N
# disk_bytes_per_read B syscr_per_read C" (the daemon's /proc/PID/io
# read_bytes and syscr over the run, per read) and the same for B. Root,
# /dev/fuse and fio are needed. WORK (default: a new temp dir) holds the
# data dir and mount point.
. "$(dirname "$0")/ab-common.sh"

run() {
	ab_mount "$1"
	fio --name=fill --directory="$mnt" --filename=f --rw=write --bs=1M --size="${SIZE:-512M}" \
		--ioengine=psync --end_fsync=1 --output-format=terse >/dev/null 2>&1 || exit 1
	if [ "${RANDWRITE:-0}" -gt 0 ]; then
		fio --name=rw --directory="$mnt" --filename=f --rw=randwrite --bs=4k --size="${SIZE:-512M}" \
			--ioengine=psync --runtime="$RANDWRITE" --time_based --end_fsync=1 \
			--output-format=terse >/dev/null 2>&1 || exit 1
	fi
	ab_umount
	"$1/fs/lsmfs" "$work/data" "$mnt" || exit 1
	pid=$(pgrep -n -f "lsmfs.*$work/data") || exit 1
	sync && echo 3 >/proc/sys/vm/drop_caches
	io0=$(awk '/^(read_bytes|syscr):/ { printf "%s ", $2 }' "/proc/$pid/io")
	# terse v3 field 8: read IOPS
	fio --name=rr --directory="$mnt" --filename=f --rw=randread --bs=4k --size="${SIZE:-512M}" \
		--ioengine=psync --runtime=8s --time_based --output-format=terse \
		--terse-version=3 2>/dev/null >"$work/rr.out"
	io1=$(awk '/^(read_bytes|syscr):/ { printf "%s ", $2 }' "/proc/$pid/io")
	awk -F';' -v t="$2" -v a="$io0" -v b="$io1" '{
		split(a, x, " "); split(b, y, " "); n = $8 * 8
		printf "%s iops %s disk_bytes_per_read %.0f syscr_per_read %.2f\n", t, $8,
			n ? (y[2] - x[2]) / n : 0, n ? (y[1] - x[1]) / n : 0 }' "$work/rr.out"
	ab_umount
}
for _ in $(seq 1 "$reps"); do
	run "$a" A
	run "$b" B
done
