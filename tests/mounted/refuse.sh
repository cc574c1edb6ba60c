#!/bin/sh
# Refusals, each with a message naming the cause, a non-zero exit and no
# change to the data dir: mounting an unformatted dir, a newer-version dir,
# a damaged one, a data dir in use, a mountpoint already mounted, missing
# or not empty; unknown and malformed options; mkfs.lsmfs's refusals.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

LSMCTL=$top_builddir/lsm/lsmctl
# Names, sizes and checksums of everything in a directory.
# (LOCK is left out: the engine writes its pid there on every open,
# refused or not; it is a lock, not data.)
snapshot()
{
	(cd "$1" && find . ! -name LOCK -printf '%p %y %m %s %T@ %C@\n' &&
		find . -type f ! -name LOCK -exec sha256sum {} +) | LC_ALL=C sort
}
# Mounts under this test's temp dir (other tests may be mounting meanwhile).
our_mounts() { findmnt -rn -o TARGET | grep -c "^$T/" || true; }
# Runs lsmfs, which must fail with exit status $1 and a message matching $2.
refused()
{
	want=$1 pattern=$2
	shift 2
	rc=0
	mounts=$(our_mounts)
	out=$("$LSMFS" "$@" 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -eq "$want" ] || fail "lsmfs $* exited $rc, not $want"
	echo "$out" | grep -Eq -- "$pattern" || fail "message does not match /$pattern/"
	[ "$(our_mounts)" -eq "$mounts" ] || fail "mounted anyway"
}

step "an empty, unformatted data dir is refused and left empty"
mkdir "$T/empty"
refused 1 "mkfs.lsmfs" "$T/empty" "$MNT"
[ -z "$(ls -A "$T/empty")" ] || fail "the empty dir got: $(ls -A "$T/empty")"

step "a dir of other files is refused and left as it was"
mkdir "$T/other"
echo precious >"$T/other/file"
snapshot "$T/other" >"$T/before"
refused 1 "not an lsmfs|mkfs.lsmfs" "$T/other" "$MNT"
snapshot "$T/other" >"$T/after"
diff -u "$T/before" "$T/after"

step "a missing data dir is refused"
refused 1 "No such file" "$T/missing" "$MNT"

step "a data dir of a newer format version is refused and left as it was"
fresh_fs
# The superblock with version 99 (keys.h: magic, version, chunk size, uuid, ...).
"$LSMCTL" "$DATA" put S "0x6c736d66732d7362""00000063""00010000""$(printf '%032d' 0)""$(printf '%032d' 0)""0000000000000400" >/dev/null
snapshot "$DATA" >"$T/before"
refused 1 "newer|version" "$DATA" "$MNT"
snapshot "$DATA" >"$T/after"
diff -u "$T/before" "$T/after"

step "a damaged data dir (CURRENT overwritten) is refused"
fresh_fs
echo garbage >"$DATA/CURRENT"
snapshot "$DATA" >"$T/before"
refused 1 "damaged.*CURRENT" "$DATA" "$MNT"
snapshot "$DATA" >"$T/after"
diff -u "$T/before" "$T/after"

step "a data dir that lost CURRENT is refused as damaged, not as unformatted"
fresh_fs
rm "$DATA/CURRENT"
snapshot "$DATA" >"$T/before"
refused 1 "damaged.*CURRENT.*missing" "$DATA" "$MNT"
snapshot "$DATA" >"$T/after"
diff -u "$T/before" "$T/after"

step "missing, non-directory and non-empty mountpoints are refused"
fresh_fs
refused 1 "No such file" "$DATA" "$T/nomnt"
touch "$T/plainfile"
refused 1 "not a directory" "$DATA" "$T/plainfile"
touch "$MNT/hidden"
refused 1 "not empty.*nonempty" "$DATA" "$MNT"

step "-o nonempty mounts over a non-empty directory"
mount_fs -o nonempty
[ ! -e "$MNT/hidden" ] || fail "the hidden file shows through"
umount_fs
rm "$MNT/hidden"

step "a second mount of a data dir in use is refused, the first goes on"
mount_fs
echo first >"$MNT/f"
mkdir "$T/mnt2"
refused 1 "in use|mounted|busy|lock" "$DATA" "$T/mnt2"
[ "$(cat "$MNT/f")" = first ] || fail "the first mount was disturbed"

step "a mountpoint that is already mounted is refused"
mkdir "$T/data2"
"$MKFS" "$T/data2" >/dev/null
refused 1 "already a mount point" "$T/data2" "$MNT"
[ "$(cat "$MNT/f")" = first ] || fail "the first mount was disturbed"

step "mkfs.lsmfs refuses a data dir in use, even with --force"
expect_fail "in use|busy|mounted" "$MKFS" "$DATA"
expect_fail "in use|busy|mounted" "$MKFS" --force "$DATA"
[ "$(cat "$MNT/f")" = first ] || fail "the mounted fs was disturbed"
umount_fs

step "unknown and malformed options are usage errors (exit 2)"
refused 2 "unknown option.*bogus" "$DATA" "$MNT" -o bogus
refused 2 "cache_size" "$DATA" "$MNT" -o cache_size=lots
refused 2 "sync" "$DATA" "$MNT" -o sync=sometimes
refused 2 "verify" "$DATA" "$MNT" -o verify=maybe
refused 2 "killpriv_v2" "$DATA" "$MNT" -o killpriv_v2=yes
refused 2 "writeback" "$DATA" "$MNT" -o writeback=maybe
refused 2 "inline" "$DATA" "$MNT" -o inline=5000
refused 2 "inline" "$DATA" "$MNT" -o inline=small
refused 2 "inode_cache" "$DATA" "$MNT" -o inode_cache=0
refused 2 "inode_cache" "$DATA" "$MNT" -o inode_cache=-5
refused 2 "usage" "$DATA"
refused 2 "usage" "$DATA" "$MNT" extra

step "the daemon's own options and fstab words are accepted"
mount_fs -o cache_size=16M,sync=always,verify=off,writeback=off,killpriv_v2=off,inline=1K,inode_cache=100,defaults,noauto,nofail,_netdev,x-systemd.automount
[ "$(cat "$MNT/f")" = first ] || fail "data"
umount_fs

step "in the background, the exit status says whether it mounted"
"$LSMFS" "$DATA" "$MNT"
is_mounted "$MNT" || fail "not mounted after lsmfs returned 0"
DAEMON_PID=$(daemon_pid_of "$DATA")
[ -n "$DAEMON_PID" ] || fail "no daemon"
refused 1 "already a mount point" "$DATA" "$MNT"
fusermount3 -u "$MNT"
wait_gone "$DAEMON_PID" 100 || fail "the daemon did not exit after unmount"
DAEMON_PID=
rc=0
"$LSMFS" "$T/empty" "$MNT" 2>"$T/err" || rc=$?
[ "$rc" -eq 1 ] || fail "background mount of an unformatted dir exited $rc"
grep -q mkfs.lsmfs "$T/err" || fail "the refusal did not reach the terminal: $(cat "$T/err")"

step "mkfs.lsmfs: existing lsmfs without --force, other files, bad chunk sizes"
expect_fail "--force" "$MKFS" "$DATA"
expect_fail "not empty|holds no lsmfs" "$MKFS" "$T/other"
expect_fail "--force" "$MKFS" "$DATA"
for cs in 3000 2048 2M 5000 0 abc; do
	rc=0
	"$MKFS" --chunk-size "$cs" "$T/newfs_$cs" 2>"$T/err" || rc=$?
	[ "$rc" -eq 2 ] || fail "chunk size $cs: exit $rc"
	grep -q "power of two" "$T/err" || fail "chunk size $cs: $(cat "$T/err")"
	[ ! -e "$T/newfs_$cs" ] || fail "chunk size $cs: the dir was made"
done

step "mkfs.lsmfs --force re-creates; 4K and 1M chunk sizes work"
"$MKFS" --force "$DATA"
mount_fs
[ -z "$(ls -A "$MNT")" ] || fail "not empty after --force: $(ls -A "$MNT")"
umount_fs
for cs in 4K 1M; do
	"$MKFS" --chunk-size $cs "$T/cs_$cs" | grep -q "chunk size"
	"$LSMFS" -f "$T/cs_$cs" "$MNT" >>"$LOG" 2>&1 &
	DAEMON_PID=$!
	n=0
	until is_mounted "$MNT"; do
		n=$((n + 1))
		[ $n -le 200 ] || fail "no mount"
		sleep 0.1
	done
	head -c 3000000 /dev/urandom >"$T/x"
	cp "$T/x" "$MNT/x"
	cmp "$T/x" "$MNT/x"
	umount_fs
done
