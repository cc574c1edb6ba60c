#!/bin/bash
# ab-verify.sh BUILDDIR [REPS] — what each verify= mode costs a cold
# sequential read on lsmfs (docs/BENCHMARKS.md).
#
# Writes 1 GiB of random bytes to a fresh lsmfs with dd (1 MiB, fsync),
# then for each repetition mounts it with verify=on, sha and off in turn,
# drops the page cache and times `cat FILE >/dev/null`; prints
# "verify=MODE N MiB/s". Root, /dev/fuse and 2 GiB free in WORK (default: a
# new temp dir) are needed.
set -u
bd=$(cd "$1" && pwd) || exit 2
reps=${2:-3}
work=${WORK:-$(mktemp -d /tmp/ab-verify.XXXXXX)}
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null; rm -rf "$work/data" "$work/src.bin"' EXIT
mkdir -p "$work/data" "$mnt" || exit 1
"$bd/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
"$bd/fs/lsmfs" "$work/data" "$mnt" || exit 1
head -c 1G /dev/urandom >"$work/src.bin" || exit 1
dd if="$work/src.bin" of="$mnt/big" bs=1M conv=fsync status=none || exit 1
rm -f "$work/src.bin"
fusermount3 -u "$mnt"
for _ in $(seq 1 "$reps"); do
	for v in on sha off; do
		"$bd/fs/lsmfs" -o "verify=$v" "$work/data" "$mnt" || exit 1
		sync && echo 3 >/proc/sys/vm/drop_caches
		s=$(date +%s.%N)
		cat "$mnt/big" >/dev/null || exit 1
		e=$(date +%s.%N)
		awk -v s="$s" -v e="$e" -v v="$v" 'BEGIN { printf "verify=%s %.0f MiB/s\n", v, 1024 / (e - s) }'
		fusermount3 -u "$mnt"
	done
done
