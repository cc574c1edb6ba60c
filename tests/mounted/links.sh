#!/bin/sh
# Hard links, symbolic links and rename: link counts as stat shows them,
# one inode behind every name, targets kept byte for byte, moves across
# directories (with their contents), RENAME_NOREPLACE and RENAME_EXCHANGE.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

nlink() { stat -c %h "$1"; }
ino() { stat -c %i "$1"; }
# The inode number readdir gives for ".." in directory $1.
dotdot() { ls -ai "$1" | awk '$2 == ".." { print $1 }'; }
expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }

step "mkfs and mount"
fresh_fs
mount_fs
cd "$MNT"

step "hard links: one inode, link count follows ln and rm"
mkdir d1 d2
echo hello >a
expect_eq "$(nlink a)" 1 "new file"
ln a b
ln a d1/c
expect_eq "$(nlink a)" 3 "after two links"
expect_eq "$(ino b)" "$(ino a)" "same inode"
expect_eq "$(ino d1/c)" "$(ino a)" "same inode in a subdirectory"
echo more >>b
expect_eq "$(cat d1/c)" "$(printf 'hello\nmore')" "a write through one name shows in the other"
rm a
expect_eq "$(nlink b)" 2 "after rm"
rm b
expect_eq "$(nlink d1/c)" 1 "last name"
expect_eq "$(cat d1/c)" "$(printf 'hello\nmore')" "data kept while a name is left"

step "directory link counts: 2 + subdirectories"
expect_eq "$(nlink d1)" 2 "empty dir"
mkdir d1/s1 d1/s2
expect_eq "$(nlink d1)" 4 "two subdirs"
rmdir d1/s2
expect_eq "$(nlink d1)" 3 "one subdir"

step "hard link to a directory is refused"
expect_fail "ermitted|not allowed" ln d1 d1link

step "symlinks: targets, dangling links, links to directories, lstat size"
ln -s d1/c rel
ln -s "$MNT/d1" absdir
ln -s nowhere dangling
expect_eq "$(readlink rel)" d1/c "relative target"
expect_eq "$(cat rel)" "$(cat d1/c)" "followed"
expect_eq "$(readlink absdir)" "$MNT/d1" "absolute target"
[ -d absdir/s1 ] || fail "a link to a directory is followed"
[ -L dangling ] && [ ! -e dangling ] || fail "dangling link"
expect_eq "$(stat -c %s rel)" 4 "a symlink's size is its target's length"
expect_eq "$(stat -c %F rel)" "symbolic link" "type"

step "a 4000-byte symlink target comes back whole"
long=$(head -c 4000 /dev/zero | tr '\0' x)
ln -s "$long" longlink
expect_eq "$(readlink longlink)" "$long" "long target"
expect_eq "$(stat -c %s longlink)" 4000 "long target size"

step "mv across directories: files, and directories with their contents"
echo moved >d1/f
mv d1/f d2/f
[ ! -e d1/f ] && [ "$(cat d2/f)" = moved ] || fail "mv file"
mkdir -p d1/tree/x/y
echo deep >d1/tree/x/y/z
mv d1/tree d2/
expect_eq "$(cat d2/tree/x/y/z)" deep "contents moved"
expect_eq "$(dotdot d2/tree)" "$(ino d2)" ".. of the moved directory"
expect_eq "$(nlink d1)" 3 "old parent lost a subdirectory"
expect_eq "$(nlink d2)" 3 "new parent gained one"

step "rename over an existing file replaces it; the old inode is gone"
echo one >r1
echo two >r2
old=$(ino r2)
mv r1 r2
expect_eq "$(cat r2)" one "replaced"
[ ! -e r1 ] || fail "source name left"
[ "$(ino r2)" != "$old" ] || fail "target inode kept"

step "rename of a directory over an empty one, not over a non-empty one"
mkdir e1 e2 full
touch full/x
mv -T e1 e2
[ ! -e e1 ] && [ -d e2 ] || fail "dir over empty dir"
expect_fail "not empty|exists" mv -T e2 full

step "RENAME_NOREPLACE refuses an existing target and moves to a free name"
echo a >n1
echo b >n2
expect_eq "$("$FSPROBE" noreplace n1 n2 || true)" EEXIST "noreplace onto existing"
expect_eq "$(cat n2)" b "target untouched"
expect_eq "$("$FSPROBE" noreplace n1 n3)" ok "noreplace onto a free name"
expect_eq "$(cat n3)" a "moved"

step "RENAME_EXCHANGE swaps two names, a file and a directory too"
echo left >x1
mkdir x2
touch x2/inside
"$FSPROBE" exchange x1 x2 >/dev/null
[ -d x1 ] && [ -e x1/inside ] && [ "$(cat x2)" = left ] || fail "exchange"
expect_eq "$("$FSPROBE" exchange x1 nonexistent || true)" ENOENT "exchange with nothing"

step "everything above is still so after remount"
cd /
remount_fs
cd "$MNT"
expect_eq "$(nlink d1/c)" 1 "link count"
expect_eq "$(nlink d1)" 3 "dir link count"
expect_eq "$(readlink longlink)" "$long" "long target"
expect_eq "$(cat d2/tree/x/y/z)" deep "moved tree"
expect_eq "$(dotdot d2/tree)" "$(ino d2)" ".. of the moved directory"
[ -d x1 ] && [ "$(cat x2)" = left ] || fail "exchange"
cd /
umount_fs
