#!/bin/bash
# ab-meta.sh A_BUILDDIR B_BUILDDIR [REPS] — metadata rates on lsmfs, one
# build against another in alternation (docs/BENCHMARKS.md).
#
# Each run: mkfs.lsmfs and mount a fresh data dir with that build's
# fs/lsmfs, then that build's metabench creates, renames and unlinks
# 19,000 files in one directory; prints "A create N rename N unlink N"
# (ops/s) and the same for B. Root and /dev/fuse are needed. WORK
# (default: a new temp dir) holds the data dir and mount point.
. "$(dirname "$0")/ab-common.sh"

run() {
	ab_mount "$1"
	mkdir "$mnt/d" || exit 1
	# metabench prints "PHASE OPS SECONDS OPS_PER_SECOND"
	c=$("$1/bench/fs/metabench" create -n 19000 "$mnt/d" | awk '{ print $4 }')
	r=$("$1/bench/fs/metabench" rename -n 19000 "$mnt/d" | awk '{ print $4 }')
	u=$("$1/bench/fs/metabench" unlink -r -n 19000 "$mnt/d" | awk '{ print $4 }')
	echo "$2 create $c rename $r unlink $u"
	ab_umount
}
for _ in $(seq 1 "$reps"); do
	run "$a" A
	run "$b" B
done
