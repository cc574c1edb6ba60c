#!/bin/sh
# Inline chunks (docs/FORMAT.md): small files keep their bytes in their
# chunk reference, with no C or R key. Files cross the limit (4032 bytes)
# both ways by write, append, truncate, mmap and copy_file_range, with hard
# links and xattrs on them; every file is compared with a copy on the host
# after each step, a remount and a kill -9, and fsck.lsmfs finds nothing.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

H=$T/host
mkdir "$H"
LSMCTL=$top_builddir/lsm/lsmctl
FSCK=$top_builddir/mkfs/fsck.lsmfs

# Keys of tag $1 in the unmounted data dir.
keys() { "$LSMCTL" "$DATA" scan --prefix "$1" | grep -c . || true; }
# Every file of the host copy equals its lsmfs twin.
same_all() {
	for f in "$H"/*; do
		cmp "$f" "$MNT/$(basename "$f")" || fail "$(basename "$f") differs $1"
	done
}
# Both copies of file $1 get command $2 ... with the file's path last.
both() {
	f=$1
	shift
	"$@" "$H/$f"
	"$@" "$MNT/$f"
}
expect_keys() {
	umount_fs
	c=$(keys C)
	r=$(keys R)
	[ "$c" = "$1" ] && [ "$r" = "$1" ] || fail "$c C and $r R keys, $1 expected ($2)"
	mount_fs
}

step "mkfs and mount"
fresh_fs
mount_fs

step "small files of 1 to 4032 bytes: no C or R key"
for n in 1 15 100 4031 4032; do
	head -c "$n" /dev/urandom >"$H/s$n"
	cp "$H/s$n" "$MNT/s$n"
done
: >"$H/empty"
: >"$MNT/empty"
same_all "after writing"
expect_keys 0 "small files only"
same_all "after a remount"
[ "$(du -k "$MNT/s15" | cut -f1)" = 4 ] || fail "du of a 15-byte file: $(du -k "$MNT/s15")"

step "an append past the limit makes a chunk; a truncate back makes it inline again"
head -c 100 /dev/urandom >"$T/more"
both s4032 sh -c 'cat "$1" >>"$2"' - "$T/more"
same_all "after the append"
expect_keys 1 "one file past the limit"
both s4032 truncate -s 1000
same_all "after the truncate"
expect_keys 0 "truncated back under the limit"

step "mmap writes: inside a small file, and one that grows it past the limit"
for d in "$H" "$MNT"; do
	"$FSPROBE" mmapwrite "$d/s100" 10 hello >/dev/null || fail "mmap write in $d"
	"$FSPROBE" mmapwrite "$d/s15" 6000 far >/dev/null || fail "growing mmap write in $d"
done
same_all "after the mmap writes"
expect_keys 1 "s15 grown to 6003 bytes"

step "copy_file_range of small files, and of one past the limit"
"$FSPROBE" copy "$MNT/s4031" "$MNT/c4031" 4031 >/dev/null
cp "$H/s4031" "$H/c4031"
"$FSPROBE" copy "$MNT/s15" "$MNT/c15" 6003 >/dev/null
cp "$H/s15" "$H/c15"
same_all "after the copies"
expect_keys 1 "the big copy shares its chunk"

step "hard links and xattrs on a small file"
ln "$MNT/s100" "$MNT/link100"
printf 'more' >>"$MNT/link100"
printf 'more' >>"$H/s100"
cmp "$MNT/s100" "$MNT/link100" || fail "the two names of one file differ"
rm "$MNT/link100"
setfattr -n user.k -v value "$MNT/s1"
[ "$(getfattr --only-values -n user.k "$MNT/s1")" = value ] || fail "xattr of a small file"
same_all "after the links"

step "kill -9 after fsync: what was synced is there"
head -c 3000 /dev/urandom >"$H/k1"
dd if="$H/k1" of="$MNT/k1" conv=fsync status=none
head -c 300 /dev/urandom >"$T/tail"
cat "$T/tail" >>"$H/k1"
dd if="$T/tail" of="$MNT/k1" oflag=append conv=notrunc,fsync status=none
kill_fs
mount_fs
same_all "after kill -9"
[ "$(getfattr --only-values -n user.k "$MNT/s1")" = value ] || fail "xattr after kill -9"

step "fsck.lsmfs finds nothing, and the files read back after a remount"
umount_fs
"$FSCK" -n "$DATA" >"$T/fsck.out" 2>&1 || { cat "$T/fsck.out"; fail "fsck.lsmfs -n"; }
mount_fs
same_all "at the end"
umount_fs
