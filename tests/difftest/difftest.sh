#!/bin/sh
# Differential test: the same scripted shell session (script.sh) runs in a
# directory of the host filesystem and in a directory of an lsmfs mount;
# the two transcripts (every command, its output, its error messages and
# its exit status) must be identical. script.sh leaves out what may differ
# by design: inode numbers, times, and the block counts and directory
# sizes that depend on a filesystem's allocation unit.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

SCRIPT=$top_srcdir/tests/difftest/script.sh

step "mkfs and mount"
fresh_fs
mount_fs -o dev,suid

step "run the session on the host ($(stat -f -c %T "$T"))"
mkdir "$T/host"
(cd "$T/host" && umask 022 && LC_ALL=C sh "$SCRIPT") >"$T/host.out" 2>&1

step "run the session on lsmfs"
mkdir "$MNT/w"
(cd "$MNT/w" && umask 022 && LC_ALL=C sh "$SCRIPT") >"$T/lsmfs.out" 2>&1

step "the transcripts are identical"
echo "$(wc -l <"$T/host.out") lines of transcript"
if ! diff -u "$T/host.out" "$T/lsmfs.out"; then
	fail "lsmfs differs from the host filesystem (- host, + lsmfs)"
fi

step "and still identical when read back after a remount"
remount_fs
(cd "$MNT/w" && LC_ALL=C sh "$SCRIPT" --listing) >"$T/lsmfs2.out" 2>&1
(cd "$T/host" && LC_ALL=C sh "$SCRIPT" --listing) >"$T/host2.out" 2>&1
diff -u "$T/host2.out" "$T/lsmfs2.out" || fail "differs after remount"
umount_fs
