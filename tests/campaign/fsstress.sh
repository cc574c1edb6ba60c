#!/bin/sh
# fsstress: several processes make random namespace and data operations in
# one shared tree (collisions wanted), then fsstress checks the tree: every
# entry stats, every file reads to its size with no foreign byte, link
# counts equal the names found, readdir equals lookups. First on the host's
# own filesystem (the tester's check of itself), then on lsmfs, once more
# on lsmfs after a remount, and fsck.lsmfs -n at the end when it is built.
# lsmfs keeps only 64 idle inodes whole (-o inode_cache=64), so most of
# what the kernel remembers lives as light records (fs/inode.c).
#
# FSSTRESS_PROCS (4) and FSSTRESS_OPS (1000, make stress 10000) scale it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/campaign/campaign.sh"

: "${FSSTRESS_PROCS:=4}"
: "${FSSTRESS_OPS:=1000}"

step "fsstress $FSSTRESS_PROCS x $FSSTRESS_OPS on the host's filesystem"
"$FSSTRESS" -d "$T/host" -p "$FSSTRESS_PROCS" -n "$FSSTRESS_OPS" -S "$SEED"

step "mkfs and mount"
fresh_fs
mount_fs -o inode_cache=64

step "fsstress $FSSTRESS_PROCS x $FSSTRESS_OPS on lsmfs"
"$FSSTRESS" -d "$MNT/stress" -p "$FSSTRESS_PROCS" -n "$FSSTRESS_OPS" -S "$SEED"

step "after a remount the tree checks again"
remount_fs -o inode_cache=64
"$FSSTRESS" -d "$MNT/stress" -c

step "fsck.lsmfs -n finds the data directory clean"
umount_fs
check_fsck
