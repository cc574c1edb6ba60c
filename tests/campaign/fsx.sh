#!/bin/sh
# fsx on lsmfs: random reads, writes, truncates, fallocates, hole punches,
# zero ranges, mmap reads and writes, reopens and fsyncs on one file, each
# checked against the tester's copy; once with mmap, once without. The
# same two runs (same seeds) go on the host's own filesystem at the same
# time: a failure on both is the tester's, a failure on lsmfs alone is
# lsmfs's.
#
# FSX_OPS (default 20000) sets the operations of each run; make stress sets
# 1000000. LSMFS_CAMPAIGN_SEED replays a run.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/campaign/campaign.sh"

: "${FSX_OPS:=20000}"

step "mkfs and mount"
fresh_fs
mount_fs
mkdir "$T/host"

step "fsx, $FSX_OPS operations with mmap and $FSX_OPS without, on lsmfs and on the host"
start_fsx lsmfs_mmap "$MNT/fsx-mmap" -S "$SEED" -N "$FSX_OPS" -E "$T/expect-mmap"
start_fsx lsmfs_plain "$MNT/fsx-plain" -S "$((SEED + 1))" -N "$FSX_OPS" -R -W \
	-E "$T/expect-plain"
start_fsx host_mmap "$T/host/fsx-mmap" -S "$SEED" -N "$FSX_OPS"
start_fsx host_plain "$T/host/fsx-plain" -S "$((SEED + 1))" -N "$FSX_OPS" -R -W
finish_fsx lsmfs_mmap lsmfs_plain host_mmap host_plain
case "$FSX_FAILED" in
*host*) fail "fsx failed on the host's filesystem too ($FSX_FAILED): suspect the tester" ;;
?*) fail "fsx failed on lsmfs only ($FSX_FAILED): an lsmfs bug" ;;
esac

step "on lsmfs every fallocate mode ran: none was turned off as unsupported"
for name in lsmfs_mmap lsmfs_plain; do
	if grep "not supported here" "$T/$name.out"; then
		fail "fsx run $name turned an operation off"
	fi
	for op in falloc punch zero; do
		grep -Eq " $op [1-9][0-9]*( |\$)" "$T/$name.out" || fail "fsx run $name made no $op"
	done
done

step "after a remount both files hold what fsx last saw"
remount_fs
cmp "$T/expect-mmap" "$MNT/fsx-mmap"
cmp "$T/expect-plain" "$MNT/fsx-plain"

step "fsck.lsmfs -n finds the data directory clean"
umount_fs
check_fsck
