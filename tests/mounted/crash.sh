#!/bin/sh
# kill -9 of the daemon loses nothing it acknowledged: files written and
# closed, data fsynced on a descriptor still open, and every kind of
# metadata change are all there after the remount.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }

step "mkfs and mount"
fresh_fs
mount_fs

step "write and close files, change metadata, fsync one still open, kill -9"
head -c 5000000 /dev/urandom >"$T/big"
cp "$T/big" "$MNT/big"
echo small >"$MNT/small"
mkdir -p "$MNT/a/b/c"
echo deep >"$MNT/a/b/c/file"
ln "$MNT/small" "$MNT/a/hard"
ln -s ../small "$MNT/a/sym"
mv "$MNT/a/b" "$MNT/moved"
chmod 640 "$MNT/small"
setfattr -n user.k -v v "$MNT/small"
echo doomed >"$MNT/doomed"
rm "$MNT/doomed"
truncate -s 123456 "$MNT/sized"
exec 3>"$MNT/open"
echo "fsynced but open" >&3
sync "$MNT/open"
kill_fs
exec 3>&-

step "after remount every acknowledged change is there"
mount_fs
cmp "$T/big" "$MNT/big"
expect_eq "$(cat "$MNT/small")" small "small file"
expect_eq "$(cat "$MNT/moved/c/file")" deep "renamed tree"
[ ! -e "$MNT/a/b" ] || fail "old name of the renamed tree"
expect_eq "$(stat -c %h "$MNT/small")" 2 "hard link count"
expect_eq "$(readlink "$MNT/a/sym")" ../small "symlink"
expect_eq "$(stat -c %a "$MNT/small")" 640 "mode"
expect_eq "$(getfattr --only-values -n user.k "$MNT/small")" v "xattr"
[ ! -e "$MNT/doomed" ] || fail "deleted file came back"
expect_eq "$(stat -c %s "$MNT/sized")" 123456 "size"
expect_eq "$(cat "$MNT/open")" "fsynced but open" "fsynced data"

step "a second crash right after recovery loses nothing either"
echo after >"$MNT/after"
kill_fs
mount_fs
expect_eq "$(cat "$MNT/after")" after "file written after the first recovery"
cmp "$T/big" "$MNT/big"

# (Not SIGINT here: a shell script's background jobs ignore it, and the
# daemon, like any, keeps an ignored SIGINT ignored.)
step "SIGTERM and SIGHUP unmount cleanly: exit 0, nothing mounted, data kept"
for sig in TERM HUP; do
	echo "$sig" >"$MNT/sig$sig"
	kill -s "$sig" "$DAEMON_PID"
	rc=0
	wait_daemon || rc=$?
	[ "$rc" -eq 0 ] || fail "exit status $rc after SIG$sig"
	! is_mounted "$MNT" || fail "still mounted after SIG$sig"
	mount_fs
	expect_eq "$(cat "$MNT/sig$sig")" "$sig" "data written before SIG$sig"
done

step "fsck.lsmfs finds the data directory clean (when it is built)"
umount_fs
FSCK=
for f in "$top_builddir/mkfs/fsck.lsmfs" "$top_builddir/fs/fsck.lsmfs"; do
	[ -x "$f" ] && FSCK=$f
done
if [ -n "$FSCK" ]; then
	"$FSCK" "$DATA"
else
	echo "fsck.lsmfs not built yet"
fi
