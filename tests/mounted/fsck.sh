#!/bin/sh
# fsck.lsmfs on real use: a mounted data directory is refused (status 8);
# what kill -9 of the daemon leaves, with a file open and one unlinked
# while open, checks clean (status 0, the orphan only a note); -y frees the
# orphan (status 1); and a chunk deleted behind the filesystem's back is
# found (status 4) and repaired (status 1), its range reading as zeros.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

FSCK=$top_builddir/mkfs/fsck.lsmfs
LSMCTL=$top_builddir/lsm/lsmctl
[ -x "$FSCK" ] || fail "$FSCK is not built"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }

# Runs fsck.lsmfs with the arguments after the first, which is the exit
# status it must end with; its output is shown and kept in $T/fsck.out.
fsck_status()
{
	want=$1
	shift
	rc=0
	"$FSCK" --no-progress "$@" >"$T/fsck.out" 2>&1 || rc=$?
	cat "$T/fsck.out"
	[ "$rc" -eq "$want" ] || fail "fsck.lsmfs $* exited with $rc, expected $want"
}

step "mkfs, mount, and use: copies that share chunks, links, xattrs, renames"
fresh_fs
# Small chunks as C keys (not inline), so that one can be deleted below.
mount_fs -o inline=0
head -c 3000000 /dev/urandom >"$T/big"
mkdir -p "$MNT/d/e"
cp "$T/big" "$MNT/big"
cp "$T/big" "$MNT/d/e/copy"
echo hi >"$MNT/d/small"
ln "$MNT/d/small" "$MNT/hard"
ln -s d/small "$MNT/sym"
setfattr -n user.k -v v "$MNT/d/small"
truncate -s 1000000 "$MNT/sparse"
echo tail >>"$MNT/sparse"
mv "$MNT/d/e" "$MNT/e"
rm "$MNT/big"

step "a mounted data directory is refused with exit status 8"
fsck_status 8 -n "$DATA"
grep -q "in use" "$T/fsck.out" || fail "the refusal does not say the directory is in use"
fsck_status 8 -y "$DATA"
fsck_status 8 "$DATA"

step "kill -9 with a file open and one unlinked while open: fsck -n is clean"
exec 3>"$MNT/open"
echo "being written" >&3
echo gone >"$MNT/gone"
exec 4<"$MNT/gone"
rm "$MNT/gone"
kill_fs
exec 3>&- 4<&-
fsck_status 0 -n "$DATA"
grep -q "^note: .*unlinked while in use" "$T/fsck.out" || fail "the orphan is not noted"
fsck_status 0 "$DATA"

step "fsck -y frees the orphan (status 1); then all is clean (status 0)"
fsck_status 1 -y "$DATA"
fsck_status 0 -n "$DATA"
fsck_status 0 -y "$DATA"

step "after the repairs every file is as written"
mount_fs
cmp "$T/big" "$MNT/e/copy"
expect_eq "$(cat "$MNT/hard")" hi "hard link"
expect_eq "$(cat "$MNT/sym")" hi "symlink"
expect_eq "$(getfattr --only-values -n user.k "$MNT/d/small")" v "xattr"
expect_eq "$(stat -c %s "$MNT/sparse")" 1000005 "sparse size"
expect_eq "$(tail -c 5 "$MNT/sparse")" tail "sparse tail"
umount_fs

step "a chunk deleted behind lsmfs's back: found (4), repaired (1), reads as zeros"
sha=$(printf 'hi\n' | sha256sum | cut -c1-64)
"$LSMCTL" "$DATA" del "0x43$sha"
fsck_status 4 -n "$DATA"
grep -q "which is not stored. Remove the reference; the range reads as zeros? no" \
	"$T/fsck.out" || fail "the missing chunk is not reported"
fsck_status 4 "$DATA"
grep -q "fsck.lsmfs -y" "$T/fsck.out" || fail "no advice to repair"
fsck_status 1 -y "$DATA"
fsck_status 0 -n "$DATA"
mount_fs
expect_eq "$(od -An -tx1 "$MNT/hard" | tr -d ' ')" 000000 "the lost range"
cmp "$T/big" "$MNT/e/copy"
umount_fs
