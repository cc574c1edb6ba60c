#!/bin/sh
# Full-disk campaign: the data dir lives on a small tmpfs (FULLDISK_MIB,
# 256 MiB), lsmfs keeps its space reserve (-o reserve, fs/space.h).
#   - files of 4 MiB of random data, each fsync'd, until the disk is full:
#     the writer gets ENOSPC (never EIO or EROFS); small creates and mkdir
#     get ENOSPC too; df shows (almost) nothing available;
#   - every file fsync'd before reads back exactly;
#   - deleting half of them gives the space back within 30 s (the engine's
#     deletion-triggered compactions) and new files can be written again;
#   - a filler file on the tmpfs, outside lsmfs, that eats the free space
#     below the reserve also gives writers ENOSPC, and removing it lets
#     writes in again: the daemon never turned read-only;
#   - unmount (the daemon exits 0), fsck.lsmfs -n clean, remount: every
#     surviving file reads back exactly;
#   - and why the reserve exists: with -o reserve=0 the engine itself meets
#     ENOSPC: in its WAL or a flush (it turns read-only: EROFS) or in a
#     compaction writes wait for (ENOSPC); the writer gets one of those two
#     errors, nothing fsync'd is lost, and once space is freed outside a
#     remount works, fsck is clean and files can be written again.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

: "${FULLDISK_MIB:=256}"
: "${FULLDISK_RESERVE:=96M}"
FILE_MIB=4
DISK=$T/disk
DISK_MOUNTED=
# $DATA stays lib.sh's path (its watchdog and cleanup find the daemon by
# it), a symbolic link to the data dir on the tmpfs.
SRC=$T/src
SUMS=$T/sums # "sha256  name" of every file that must read back

test_cleanup()
{
	if [ -n "$DISK_MOUNTED" ]; then
		umount "$DISK" 2>/dev/null || umount -l "$DISK"
	fi
	return 0
}

fsck_clean()
{
	"$top_builddir/mkfs/fsck.lsmfs" -n "$DATA" || fail "fsck.lsmfs -n finds $DATA damaged"
}

# Free bytes of the tmpfs (what the engine has left).
disk_free()
{
	stat -f -c '%a %S' "$DISK" | awk '{ printf "%d\n", $1 * $2 }'
}

# Available bytes of the mounted lsmfs, as df shows them.
mnt_avail()
{
	df -B1 --output=avail "$MNT" | tail -n 1 | tr -d ' '
}

# put NAME: writes FILE_MIB MiB of fresh random data to $MNT/NAME with
# fsync (dd conv=fsync), records its digest on success; on failure leaves
# dd's message in $T/put.err and returns 1.
put()
{
	head -c "$((FILE_MIB << 20))" /dev/urandom >"$SRC"
	if dd if="$SRC" of="$MNT/$1" bs=1M conv=fsync 2>"$T/put.err"; then
		(cd "$T" && sha256sum src) | sed "s| src\$| $1|" >>"$SUMS"
		return 0
	fi
	return 1
}

# The error of the last failed put must be ENOSPC, nothing else.
put_failed_enospc()
{
	cat "$T/put.err"
	grep -q "No space left on device" "$T/put.err" ||
		fail "the writer did not get ENOSPC: $(cat "$T/put.err")"
	if grep -Eq "Input/output error|Read-only file system" "$T/put.err"; then
		fail "the writer got EIO or EROFS"
	fi
}

verify_all()
{
	(cd "$MNT" && sha256sum --quiet -c "$SUMS") || fail "a file fsync'd earlier reads back wrong"
}

# put_within NAME SECONDS: retries put NAME (failing with ENOSPC only) until
# it succeeds, for at most SECONDS.
put_within()
{
	t0=$(date +%s)
	until put "$1"; do
		put_failed_enospc >/dev/null
		[ $(($(date +%s) - t0)) -lt "$2" ] ||
			fail "no space came back within $2 s (tmpfs free $(disk_free) bytes)"
		rm -f "$MNT/$1" 2>/dev/null || true # may fail too while no change fits
		sleep 1
	done
	echo "$1 fit after $(($(date +%s) - t0)) s; tmpfs free $(disk_free) bytes"
}

# Fills with files f.$1.N until a put fails even after the engine had 2 s
# to finish its flushes and compactions (whose temporary files take space
# that comes back). Every failure must be ENOSPC; a file that failed is
# kept as failed.$1.K (its contents undefined). Sets NFILES.
fill()
{
	NFILES=0
	k=0
	while :; do
		if put "f.$1.$((NFILES + 1))"; then
			NFILES=$((NFILES + 1))
			[ "$NFILES" -le $((FULLDISK_MIB / FILE_MIB + 8)) ] ||
				fail "wrote more than the disk holds without an error"
			continue
		fi
		put_failed_enospc
		k=$((k + 1))
		if [ -e "$MNT/f.$1.$((NFILES + 1))" ]; then
			mv "$MNT/f.$1.$((NFILES + 1))" "$MNT/failed.$1.$k"
		fi
		[ "$k" -le 10 ] || fail "the disk never stayed full"
		sleep 2
		put "f.$1.$((NFILES + 1))" || break
		NFILES=$((NFILES + 1))
	done
}

step "a ${FULLDISK_MIB} MiB tmpfs for the data dir; mkfs and mount with reserve=$FULLDISK_RESERVE"
mkdir "$DISK"
mount -t tmpfs -o "size=${FULLDISK_MIB}m" lsmfs-fulldisk "$DISK"
DISK_MOUNTED=1
: >"$SUMS"
mkdir "$DISK/data"
ln -s "$DISK/data" "$DATA"
"$MKFS" "$DATA" >/dev/null
for bad in abc -5 1Q ""; do
	expect_fail "bad reserve '$bad': give a size" "$LSMFS" -f "$DATA" "$MNT" -o "reserve=$bad"
done
mount_fs -o "reserve=$FULLDISK_RESERVE"
touch "$MNT/pre"

step "write ${FILE_MIB} MiB files with fsync until the writer gets ENOSPC"
fill a
put_failed_enospc
echo "$NFILES files fit; tmpfs free $(disk_free) bytes"
[ "$NFILES" -ge 4 ] || fail "only $NFILES files fit"

step "small creates, mkdir, symlink and a write into an existing file get ENOSPC"
n=0
while touch "$MNT/small.$n" 2>"$T/touch.err"; do
	n=$((n + 1))
	[ "$n" -le 100000 ] || fail "creates never failed"
done
cat "$T/touch.err"
grep -q "No space left on device" "$T/touch.err" || fail "create did not get ENOSPC"
echo "$n small files fit"
expect_fail "No space left on device" mkdir "$MNT/dir"
expect_fail "No space left on device" ln -s target "$MNT/link"
head -c $((64 << 10)) /dev/urandom >"$SRC"
if dd if="$SRC" of="$MNT/pre" bs=64k conv=fsync,notrunc 2>"$T/put.err"; then
	fail "a write into an existing file succeeded on a full filesystem"
fi
put_failed_enospc

step "df shows nothing available, the host's free space as free"
avail=$(mnt_avail)
echo "df: $avail bytes available"
[ "$avail" -lt $((2 << 20)) ] || fail "df shows $avail bytes available on a full filesystem"
bfree=$(stat -f -c '%f %S' "$MNT" | awk '{ printf "%d\n", $1 * $2 }')
echo "df: $bfree bytes free (the host's); tmpfs free $(disk_free)"
[ "$bfree" -gt $((8 << 20)) ] || fail "the host's free space is not shown as free"

step "every file fsync'd before reads back exactly"
verify_all

step "delete half of the files: within 30 s the space comes back and files fit again"
i=1
while [ "$i" -le "$NFILES" ]; do
	rm "$MNT/f.a.$i"
	sed -i "/ f\.a\.$i\$/d" "$SUMS"
	i=$((i + 2))
done
rm -f "$MNT"/small.* "$MNT"/failed.*
# The space comes back in steps, as compactions carry the deletions down.
t_del=$(date +%s)
for f in b.1 b.2 b.3; do
	put_within "$f" $((30 - ($(date +%s) - t_del)))
done
verify_all

step "a filler outside lsmfs eats the free space: writers get ENOSPC, not EROFS"
free=$(disk_free)
# Down to 16 MiB: below the reserve, but room for the engine's own flushes.
head -c "$((free - (16 << 20)))" /dev/zero >"$DISK/filler"
echo "filler $(stat -c %s "$DISK/filler") bytes; tmpfs free $(disk_free) bytes"
put c.1 && fail "a write succeeded with the disk filled from outside"
put_failed_enospc
rm -f "$MNT/c.1"
expect_fail "No space left on device" mkdir "$MNT/dir"

step "remove the filler: writes succeed again (the daemon did not turn read-only)"
rm "$DISK/filler"
put c.2 || fail "no write after the filler went: $(cat "$T/put.err")"
mkdir "$MNT/dir"
verify_all

step "unmount (daemon exits 0), fsck.lsmfs -n clean, remount: everything reads back"
umount_fs
fsck_clean
mount_fs -o "reserve=$FULLDISK_RESERVE"
verify_all

step "reserve=0: the engine itself meets ENOSPC; the error is clear, nothing fsync'd is lost"
umount_fs
head -c $((64 << 20)) /dev/zero >"$DISK/ballast" # freed later, outside lsmfs
mount_fs -o reserve=0
NFILES=0
while put "z.$((NFILES + 1))"; do
	NFILES=$((NFILES + 1))
	[ "$NFILES" -le $((FULLDISK_MIB / FILE_MIB + 8)) ] || fail "the disk never filled"
done
cat "$T/put.err"
grep -Eq "No space left on device|Read-only file system" "$T/put.err" ||
	fail "the writer got neither ENOSPC nor EROFS"
echo "$NFILES files fit; tmpfs free $(disk_free) bytes"
grep -E "read-only|No space" "$LOG" | tail -n 3
# Whatever the engine's state, what was fsync'd reads back (from memory or tables).
verify_all

step "reserve=0: free space outside, remount: fsck clean, every fsync'd file is there"
fusermount3 -u "$MNT"
rc=0
wait_daemon || rc=$?
echo "daemon exit status $rc"
rm "$DISK/ballast"
fsck_clean
mount_fs -o reserve=16M
verify_all
rm -f "$MNT"/z.*
sed -i '/ z\./d' "$SUMS"
# Without the reserve the levels may have grown past what the engine can
# compact in the space left: every change then fails with ENOSPC
# (lsmfs(8), FULL DISK) until there is room for that compaction. Growing
# the tmpfs gives it.
if ! put d.1; then
	put_failed_enospc
	echo "no room to compact what reserve=0 let pile up: growing the tmpfs"
	mount -o remount,size=$((FULLDISK_MIB * 2))m "$DISK"
	put_within d.2 40
fi
mkdir "$MNT/dir2"
verify_all
umount_fs
fsck_clean
