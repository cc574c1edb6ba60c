#!/bin/sh
# Files unlinked while open: still readable and writable through the open
# descriptor, gone from the directory, freed at the last close, and, when
# the daemon dies with one open, freed at the next mount.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
LSMCTL=$top_builddir/lsm/lsmctl
# Number of keys with a prefix in the (unmounted) data dir: I inodes, O
# orphans, F chunk references.
keys() { "$LSMCTL" "$DATA" scan --prefix "$1" | wc -l; }

step "mkfs and mount"
fresh_fs
mount_fs

step "exec 3<file; rm file; cat <&3 reads the whole file"
head -c 300000 /dev/urandom >"$T/payload"
cp "$T/payload" "$MNT/f"
exec 3<"$MNT/f"
rm "$MNT/f"
[ ! -e "$MNT/f" ] || fail "name still there"
[ -z "$(ls -A "$MNT")" ] || fail "listed: $(ls -A "$MNT")"
cat <&3 >"$T/read"
cmp "$T/payload" "$T/read"

step "fstat of the unlinked file: link count 0, size kept"
expect_eq "$(stat -L -c '%h %s' /dev/fd/3)" "0 300000" "fstat"

step "an unlinked file open for writing still takes writes and reads them back"
exec 4<>"$MNT/g"
rm "$MNT/g"
echo "written after unlink" >&4
expect_eq "$(cat /proc/self/fd/4 2>/dev/null || cat "/proc/$$/fd/4")" "written after unlink" "read back"

step "the last close frees the inode (seen in the engine after a kill -9)"
exec 3<&- 4>&-
# release and forget reach the daemon asynchronously after close.
sleep 1
kill_fs
expect_eq "$(keys I)" 1 "inodes left (the root only)"
expect_eq "$(keys O)" 0 "orphan records left"
expect_eq "$(keys F)" 0 "chunk references left"

step "a file open and unlinked when the daemon is killed is freed at the next mount"
mount_fs
head -c 200000 /dev/urandom >"$MNT/o"
exec 3<"$MNT/o"
rm "$MNT/o"
kill_fs
exec 3<&-
expect_eq "$(keys O)" 1 "orphan recorded at the crash"
expect_eq "$(keys I)" 2 "its inode kept"
mount_fs
[ -z "$(ls -A "$MNT")" ] || fail "listed: $(ls -A "$MNT")"
umount_fs
expect_eq "$(keys O)" 0 "orphan records after recovery"
expect_eq "$(keys I)" 1 "inodes after recovery"
expect_eq "$(keys F)" 0 "chunk references after recovery"

step "lookup counts balance: after readdirplus, lookups, rm and a cache drop nothing is left"
mount_fs
mkdir "$MNT/dir"
i=0
while [ $i -lt 300 ]; do
	echo "$i" >"$MNT/dir/file$i"
	i=$((i + 1))
done
ls -l "$MNT/dir" >/dev/null
find "$MNT/dir" -type f -exec cat {} + >/dev/null
echo 2 >/proc/sys/vm/drop_caches
ls -l "$MNT/dir" >/dev/null
rm -r "$MNT/dir"
sync
echo 2 >/proc/sys/vm/drop_caches
sleep 1
kill_fs
expect_eq "$(keys O)" 0 "orphan records: a leaked lookup count keeps a file alive"
expect_eq "$(keys I)" 1 "inodes left (the root only)"
