#!/bin/bash
# fsync-append.sh BUILDDIR [REPS] — 4 KiB appends each followed by fsync,
# on lsmfs and on the host filesystem under WORK, in alternation
# (docs/BENCHMARKS.md).
#
# fio --rw=write --bs=4k --fsync=1 over 32 MiB (or 8 s) on a fresh lsmfs
# and in a plain directory beside it; prints "ext4 iops N" / "lsmfs iops N"
# (the host line is named ext4 whatever WORK's filesystem is). LSMFS_OPTS,
# if set, is passed to lsmfs as -o LSMFS_OPTS (killpriv_v2=off, say). Root,
# /dev/fuse and fio are needed.
set -u
bd=$(cd "$1" && pwd) || exit 2
reps=${2:-2}
work=${WORK:-$(mktemp -d /tmp/fsync-append.XXXXXX)}
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null; rm -rf "$work/data" "$work/host"' EXIT
mkdir -p "$work/data" "$mnt" "$work/host" || exit 1
"$bd/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
"$bd/fs/lsmfs" "$work/data" "$mnt" ${LSMFS_OPTS:+-o "$LSMFS_OPTS"} || exit 1
for _ in $(seq 1 "$reps"); do
	for t in ext4 lsmfs; do
		d=$work/host
		[ "$t" = lsmfs ] && d=$mnt
		rm -f "$d/f"
		# terse v3 field 49: write IOPS
		fio --name=f --directory="$d" --filename=f --rw=write --bs=4k --size=32M --fsync=1 \
			--ioengine=psync --fallocate=none --runtime=8s --output-format=terse \
			--terse-version=3 2>/dev/null | awk -F';' -v t="$t" '{ print t, "iops", $49 }'
	done
done
