#!/bin/sh
# df tells the truth: writing 200 MiB shows as used, deleting it gives the
# space back once compaction has dropped the chunks (the test gives the
# engine some seconds, then a remount, and says which it took); df -i
# counts the inodes that exist.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

MIB=1048576

step "mkfs and mount"
fresh_fs
mount_fs
df -h "$MNT"
before=$(fs_used)
echo "used before: $((before / MIB)) MiB"

step "writing 200 MiB of distinct data adds about 200 MiB to the used space"
dd if=/dev/urandom of="$MNT/big" bs=1M count=200 conv=fsync status=none
df -h "$MNT"
after=$(fs_used)
echo "used after writing: $((after / MIB)) MiB"
[ $((after - before)) -ge $((190 * MIB)) ] || fail "df shows only $(((after - before) / MIB)) MiB more"
[ $((after - before)) -le $((400 * MIB)) ] || fail "df shows $(((after - before) / MIB)) MiB more for 200"

step "statfs counts the file's blocks as du does"
[ "$(du -m "$MNT/big" | cut -f1)" -ge 200 ] || fail "du: $(du -m "$MNT/big")"

step "deleting it gives the space back (compaction, or a remount)"
rm "$MNT/big"
sync -f "$MNT"
# Polls for up to $1 seconds until the space is back; says how long it took.
space_back()
{
	n=0
	while [ "$n" -le "$1" ]; do
		now=$(fs_used)
		if [ $((now - before)) -le $((20 * MIB)) ]; then
			echo "$n"
			return 0
		fi
		n=$((n + 1))
		sleep 1
	done
	echo "still $(((now - before) / MIB)) MiB above the start after $1 s" >&2
	return 1
}
if s=$(space_back 20); then
	how="by the running daemon, ${s} s after the delete"
else
	echo "remounting"
	remount_fs
	if s=$(space_back 10); then
		how="after a remount, in ${s} s"
	else
		echo "compacting the unmounted data dir (lsmctl compact)"
		umount_fs
		"$top_builddir/lsm/lsmctl" "$DATA" compact
		mount_fs
		s=$(space_back 5) || fail "the space did not come back even after a full compaction"
		how="only after lsmctl compact of the unmounted data dir"
	fi
fi
df -h "$MNT"
echo "space returned $how"

step "df -i counts the inodes that exist: up with creates, down with deletes, kept over a remount"
# IUsed of the mount: files and directories that exist, the root included.
iused() { df --output=iused "$MNT" | tail -n 1 | tr -d " "; }
i0=$(iused)
mkdir "$MNT/many"
for i in $(seq 1 50); do : >"$MNT/many/f$i"; done
i1=$(iused)
[ "$i1" -eq $((i0 + 51)) ] || fail "IUsed $i0 -> $i1 after 51 creates"
rm -r "$MNT/many"
i2=$(iused)
[ "$i2" -eq "$i0" ] || fail "IUsed $i1 -> $i2 after deleting them, $i0 before"
: >"$MNT/one"
remount_fs
i3=$(iused)
[ "$i3" -eq $((i0 + 1)) ] || fail "IUsed $i3 after a remount, $((i0 + 1)) expected"
echo "IUsed: $i0, $i1 with 51 more, $i2 after rm -r, $i3 after one more and a remount"
umount_fs
