#!/bin/sh
# Many requests at once, served by the daemon's thread pool: four tar
# streams unpacked side by side while the tree is listed and stat'ed,
# renames across the shared parent, writers and readers of one file, then
# rm -rf of everything in parallel. The trees must come out whole, and the
# daemon must end cleanly (under the sanitizers, with no report).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

SRC=/usr/include/linux

step "mkfs and mount"
fresh_fs
mount_fs

step "four tar streams unpacked at once, listed and moved meanwhile"
pids=
for i in 1 2 3 4; do
	(mkdir "$MNT/t$i" && tar -C "$SRC" -cf - . | tar -C "$MNT/t$i" -xf - &&
		mv "$MNT/t$i" "$MNT/done_$i") >"$T/tar$i.log" 2>&1 &
	pids="$pids $!"
done
for j in 1 2 3 4 5 6; do
	ls -lR "$MNT" >/dev/null 2>&1 || true
done
for p in $pids; do
	wait "$p" || fail "tar stream failed: $(cat "$T"/tar*.log)"
done
for i in 1 2 3 4; do
	diff -r --no-dereference "$SRC" "$MNT/done_$i"
done

step "writers of distinct ranges of one file, and readers, at the same time"
for i in 0 1 2 3; do
	head -c 1048576 /dev/urandom >"$T/part$i"
done
: >"$MNT/shared"
pids=
readers=
for i in 0 1 2 3; do
	dd if="$T/part$i" of="$MNT/shared" bs=65536 seek=$((i * 16)) conv=notrunc status=none &
	pids="$pids $!"
	cat "$MNT/shared" >/dev/null &
	readers="$readers $!"
done
for p in $pids; do
	wait "$p" || fail "a writer failed"
done
# (never a bare wait: the daemon is a child of this shell too)
for p in $readers; do
	wait "$p" || fail "a reader failed"
done
cat "$T/part0" "$T/part1" "$T/part2" "$T/part3" | cmp - "$MNT/shared"

step "rm -rf of the four trees in parallel leaves nothing"
pids=
for i in 1 2 3 4; do
	rm -rf "$MNT/done_$i" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || fail "rm -rf failed"
done
rm "$MNT/shared"
[ -z "$(ls -A "$MNT")" ] || fail "left: $(ls -A "$MNT")"

step "the daemon ends cleanly; the data dir holds the root only"
umount_fs
[ "$("$top_builddir/lsm/lsmctl" "$DATA" scan --prefix I | wc -l)" -eq 1 ] || fail "inodes left"
[ "$("$top_builddir/lsm/lsmctl" "$DATA" scan --prefix O | wc -l)" -eq 0 ] || fail "orphans left"
