#!/bin/sh
# lsmfs-stat against a running mount: request counts that move with a
# scripted workload (by mount point and by data directory, table and
# JSON), nothing of the statistics in the mounted namespace, the socket
# gone at unmount and replaced after a kill -9, clear refusals.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

STAT=$top_builddir/fs/lsmfs-stat
# The count of request kind $2 in the JSON snapshot of $1.
count_of() { "$STAT" --json "$1" | grep -o "\"$2\":{\"count\":[0-9]*" | grep -o '[0-9]*$' || echo 0; }

step "mkfs and mount; the table prints a header and COUNT lines"
fresh_fs
mount_fs
out=$("$STAT" "$MNT" 0.2 3) || fail "lsmfs-stat failed: $out"
echo "$out"
[ "$(echo "$out" | wc -l)" -eq 4 ] || fail "expected a header and 3 lines"
echo "$out" | head -n 1 | grep -q 'req/s' || fail "no header"

step "100 creates and writes move CREATE and WRITE by at least 100, and the bytes"
c0=$(count_of "$MNT" CREATE)
for i in $(seq 1 100); do echo "file $i" >"$MNT/f$i"; done
sync "$MNT/f1" # fsync: one log sync at least
c1=$(count_of "$MNT" CREATE)
w1=$(count_of "$MNT" WRITE)
echo "CREATE $c0 -> $c1, WRITE $w1"
[ "$((c1 - c0))" -ge 100 ] || fail "CREATE moved by $((c1 - c0))"
[ "$w1" -ge 1 ] || fail "no WRITE counted"
"$STAT" --json "$MNT" | grep -q '"bytes_written":[1-9]' || fail "no bytes written counted"
"$STAT" --json "$MNT" | grep -q '"wal_syncs":[1-9]' || fail "no log sync counted after an fsync"

step "the data directory works as the argument too"
[ "$(count_of "$DATA" CREATE)" -ge "$c1" ] || fail "by data dir"

step "nothing of it is in the mount's namespace"
if ls -a "$MNT" | grep -v '^f[0-9]*$' | grep -qv '^\.\.\?$'; then
	ls -a "$MNT"
	fail "an unexpected entry in the mount"
fi
[ "$(find "$MNT" | wc -l)" -eq 101 ] || fail "find sees $(find "$MNT" | wc -l) entries"
[ -S "$DATA/stat.sock" ] || fail "no socket beside LOCK"

step "the socket goes at unmount; then lsmfs-stat says so (exit 1)"
umount_fs
[ ! -e "$DATA/stat.sock" ] || fail "stat.sock left after unmount"
expect_fail "no lsmfs daemon answers" "$STAT" "$DATA"

step "after kill -9 the stale socket is replaced by the next daemon"
mount_fs
kill_fs
[ -S "$DATA/stat.sock" ] || fail "the killed daemon's socket should still be there"
mount_fs
[ "$(count_of "$MNT" LOOKUP)" -ge 0 ] && "$STAT" "$MNT" 0.1 1 >/dev/null || fail "after remount"
umount_fs

step "usage errors exit 2"
rc=0
"$STAT" "$MNT" 0 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "interval 0: exit $rc"
rc=0
"$STAT" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "no argument: exit $rc"
