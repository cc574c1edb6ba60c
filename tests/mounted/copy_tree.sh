#!/bin/sh
# A real tree through the filesystem: cp -a of /usr/include and diff -r,
# names, modes, owners, sizes, link targets and times kept; a tar stream
# in and out again; all of it still there after unmount and remount. du of
# a tree of mixed sizes, most of them tiny, comes within 10 % of what the
# backing filesystem (ext4) shows for the same tree.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

SRC=/usr/include
# One line per entry with what cp -a and tar must keep (directory sizes
# are the filesystem's business, so only files and links show a size).
listing()
{
	(cd "$1" && find . \( -type d -printf '%p d %m %U:%G %T@\n' \) -o \
		\( -printf '%p %y %m %U:%G %s %l %T@\n' \) | LC_ALL=C sort)
}

# Makes $1 with files of mixed sizes (no zero bytes, so none is trimmed).
mixed_tree()
{
	mkdir -p "$1/tiny" "$1/mid" "$1/big"
	i=0
	while [ $i -lt 60 ]; do
		head -c $((i * 37 % 300 + 1)) /dev/urandom | tr '\0' z >"$1/tiny/t$i"
		i=$((i + 1))
	done
	for n in 0 1 100 1000 4095 4096 4097 8000 20000 65535 65536 65537 100000 300000; do
		head -c $n /dev/urandom | tr '\0' z >"$1/mid/m$n"
	done
	head -c 1048576 /dev/urandom | tr '\0' z >"$1/big/one-mib"
	head -c 3000000 /dev/urandom | tr '\0' z >"$1/big/three-mb"
}

# The KiB of the files under $1 as 4 KiB blocks would hold them.
kib_in_4k_blocks()
{
	find "$1" -type f -printf '%s\n' | awk '{ k += int(($1 + 4095) / 4096) * 4 } END { print k }'
}

step "mkfs and mount"
fresh_fs
mount_fs

step "du of a tree of mixed sizes is within 10 % of the backing filesystem's"
mixed_tree "$T/mixed"
cp -a "$T/mixed" "$MNT/mixed"
diff -r "$T/mixed" "$MNT/mixed"
host=$(du -sk "$T/mixed" | cut -f1)
ours=$(du -sk "$MNT/mixed" | cut -f1)
want=$(kib_in_4k_blocks "$T/mixed")
echo "du -sk: lsmfs $ours KiB, $(stat -f -c %T "$T") $host KiB, files in 4 KiB blocks $want KiB"
# Each chunk counts its bytes in 4 KiB units (directories take nothing).
[ "$ours" -eq "$want" ] || fail "lsmfs shows $ours KiB, the files hold $want KiB"
[ $((ours * 10)) -ge $((host * 9)) ] && [ $((ours * 10)) -le $((host * 11)) ] ||
	fail "du: lsmfs $ours KiB, backing filesystem $host KiB"

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
[ "$(du -sk "$MNT/mixed" | cut -f1)" -eq "$ours" ] || fail "du changed: $(du -sk "$MNT/mixed")"
listing "$MNT/include" >"$T/mnt2.list"
diff -u "$T/src.list" "$T/mnt2.list"
diff -r --no-dereference "$SRC/linux" "$MNT/untar"

step "rm -rf of the trees leaves an empty root"
rm -rf "$MNT/include" "$MNT/untar" "$MNT/mixed"
[ -z "$(ls -A "$MNT")" ] || fail "root not empty: $(ls -A "$MNT")"
umount_fs
