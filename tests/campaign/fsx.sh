#!/bin/sh
# fsx on lsmfs: random reads, writes, truncates, fallocates, hole punches,
# zero ranges, mmap reads and writes, reopens and fsyncs on one file, each
# checked against the tester's copy; once with mmap, once without, and once
# with mostly small unaligned writes (fsx -s) over a file larger than the
# daemon's block cache, so that their read-modify-writes read the disk.
# The same three runs (same seeds) go on the host's own filesystem at the
# same time: a failure on both is the tester's, a failure on lsmfs alone is
# lsmfs's.
#
# FSX_OPS (default 20000) sets the operations of each run; FSX_CACHE (1M)
# the daemon's cache_size and FSX_SMALL_LEN (4M) the file of the small-write
# run, which must be larger (the other runs share the mount, and so its
# small cache). make stress sets 1000000, 16M and 48M. FSX_MOUNT_OPTS adds
# mount options (writeback=off, say). LSMFS_CAMPAIGN_SEED replays a run.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/campaign/campaign.sh"

: "${FSX_OPS:=20000}"
: "${FSX_CACHE:=1M}"
: "${FSX_SMALL_LEN:=4M}"
OPTS=cache_size=$FSX_CACHE${FSX_MOUNT_OPTS:+,$FSX_MOUNT_OPTS}

# A size with an optional K, M or G suffix (as lsmfs takes it) in bytes.
bytes_of()
{
	case $1 in
	*[kK]) echo $((${1%?} << 10)) ;;
	*[mM]) echo $((${1%?} << 20)) ;;
	*[gG]) echo $((${1%?} << 30)) ;;
	*) echo "$1" ;;
	esac
}
SMALL_LEN=$(bytes_of "$FSX_SMALL_LEN")
[ "$SMALL_LEN" -gt "$(bytes_of "$FSX_CACHE")" ] ||
	fail "FSX_SMALL_LEN ($FSX_SMALL_LEN) must be larger than FSX_CACHE ($FSX_CACHE)"

step "mkfs and mount ($OPTS)"
fresh_fs
mount_fs -o "$OPTS"
mkdir "$T/host"

step "fsx, 3 x $FSX_OPS operations on lsmfs and on the host (small writes over $FSX_SMALL_LEN)"
start_fsx lsmfs_mmap "$MNT/fsx-mmap" -S "$SEED" -N "$FSX_OPS" -E "$T/expect-mmap"
start_fsx lsmfs_plain "$MNT/fsx-plain" -S "$((SEED + 1))" -N "$FSX_OPS" -R -W \
	-E "$T/expect-plain"
start_fsx lsmfs_small "$MNT/fsx-small" -S "$((SEED + 2))" -N "$FSX_OPS" -s -l "$SMALL_LEN" \
	-E "$T/expect-small"
start_fsx host_mmap "$T/host/fsx-mmap" -S "$SEED" -N "$FSX_OPS"
start_fsx host_plain "$T/host/fsx-plain" -S "$((SEED + 1))" -N "$FSX_OPS" -R -W
start_fsx host_small "$T/host/fsx-small" -S "$((SEED + 2))" -N "$FSX_OPS" -s -l "$SMALL_LEN"
finish_fsx lsmfs_mmap lsmfs_plain lsmfs_small host_mmap host_plain host_small
case "$FSX_FAILED" in
*host*) fail "fsx failed on the host's filesystem too ($FSX_FAILED): suspect the tester" ;;
?*) fail "fsx failed on lsmfs only ($FSX_FAILED): an lsmfs bug" ;;
esac

step "on lsmfs every fallocate mode ran: none was turned off as unsupported"
for name in lsmfs_mmap lsmfs_plain lsmfs_small; do
	if grep "not supported here" "$T/$name.out"; then
		fail "fsx run $name turned an operation off"
	fi
	for op in falloc punch zero; do
		grep -Eq " $op [1-9][0-9]*( |\$)" "$T/$name.out" || fail "fsx run $name made no $op"
	done
done

step "after a remount the files hold what fsx last saw"
remount_fs -o "$OPTS"
cmp "$T/expect-mmap" "$MNT/fsx-mmap"
cmp "$T/expect-plain" "$MNT/fsx-plain"
cmp "$T/expect-small" "$MNT/fsx-small"

step "fsck.lsmfs -n finds the data directory clean"
umount_fs
check_fsck
