#!/bin/sh
# A real tree through the filesystem: cp -a of /usr/include and diff -r,
# names, modes, owners, sizes, link targets and times kept; a tar stream
# in and out again; all of it still there after unmount and remount.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

SRC=/usr/include
# One line per entry with what cp -a and tar must keep (directory sizes
# are the filesystem's business, so only files and links show a size).
listing()
{
	(cd "$1" && find . \( -type d -printf '%p d %m %U:%G %T@\n' \) -o \
		\( -printf '%p %y %m %U:%G %s %l %T@\n' \) | LC_ALL=C sort)
}

step "mkfs and mount"
fresh_fs
mount_fs

step "cp -a $SRC, then diff -r finds no difference"
cp -a "$SRC" "$MNT/include"
diff -r --no-dereference "$SRC" "$MNT/include"

step "cp -a kept modes, owners, sizes, link targets and times"
listing "$SRC" >"$T/src.list"
listing "$MNT/include" >"$T/mnt.list"
diff -u "$T/src.list" "$T/mnt.list"

step "tar stream into the filesystem and back out is the same tree"
mkdir "$MNT/untar" "$T/back"
tar -C "$SRC/linux" -cf - . | tar -C "$MNT/untar" -xpf -
tar -C "$MNT/untar" -cf - . | tar -C "$T/back" -xpf -
diff -r --no-dereference "$SRC/linux" "$T/back"
listing "$SRC/linux" >"$T/a.list"
listing "$T/back" >"$T/b.list"
diff -u "$T/a.list" "$T/b.list"

step "after unmount and remount the trees are all still there"
remount_fs
diff -r --no-dereference "$SRC" "$MNT/include"
listing "$MNT/include" >"$T/mnt2.list"
diff -u "$T/src.list" "$T/mnt2.list"
diff -r --no-dereference "$SRC/linux" "$MNT/untar"

step "rm -rf of the trees leaves an empty root"
rm -rf "$MNT/include" "$MNT/untar"
[ -z "$(ls -A "$MNT")" ] || fail "root not empty: $(ls -A "$MNT")"
umount_fs
