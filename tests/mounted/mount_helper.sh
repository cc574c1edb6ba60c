#!/bin/sh
# mount(8) and fstab: `mount -t fuse.lsmfs DATA MNT -o ...` goes through
# fuse3's mount.fuse3, which runs `lsmfs DATA MNT -o OPTS`; an fstab line
# of type fuse.lsmfs with the usual options mounts, umount unmounts, and
# the daemon goes away.
#
# mount(8) runs its helpers with a fixed PATH, so for the length of the
# test the build tree's lsmfs is linked as /usr/local/sbin/lsmfs (the
# first directory of that PATH), and the link removed at the end.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
LSMFS_ABS=$(cd "$(dirname "$LSMFS")" && pwd)/$(basename "$LSMFS")
HELPER_LINK=/usr/local/sbin/lsmfs
LINKED=

test_cleanup()
{
	[ -z "$LINKED" ] || rm -f "$HELPER_LINK"
}

umount_and_wait()
{
	pid=$(daemon_pid_of "$DATA")
	[ -n "$pid" ] || fail "no daemon serving $DATA"
	umount "$MNT"
	wait_gone "$pid" 100 || fail "daemon $pid still running after umount"
}

step "mkfs"
fresh_fs

step "mount -t fuse 'PROGRAM#DATA': mount.fuse3 runs the daemon with -o"
mount -t fuse "$LSMFS_ABS#$DATA" "$MNT" -o rw,nosuid,nodev,allow_other
is_mounted "$MNT" || fail "not mounted"
findmnt -n -o FSTYPE,SOURCE,OPTIONS "$MNT"
expect_eq "$(findmnt -n -o SOURCE "$MNT")" "$(cd "$DATA" && pwd -P)" "source"
findmnt -n -o OPTIONS "$MNT" | grep -q nosuid || fail "nosuid not applied"
echo via-mount >"$MNT/f"
umount_and_wait
! is_mounted "$MNT" || fail "still mounted"

step "put the build's lsmfs on mount's PATH ($HELPER_LINK)"
if [ -L "$HELPER_LINK" ] && [ "$(readlink "$HELPER_LINK")" = "$LSMFS_ABS" ]; then
	echo "already linked (another run of this test?)"
elif [ -e "$HELPER_LINK" ] || [ -L "$HELPER_LINK" ]; then
	fail "$HELPER_LINK exists already; this test will not replace it"
else
	mkdir -p "$(dirname "$HELPER_LINK")"
	ln -s "$LSMFS_ABS" "$HELPER_LINK"
	LINKED=1
fi

step "mount -t fuse.lsmfs with rw,nosuid,nodev,allow_other"
mount -t fuse.lsmfs "$DATA" "$MNT" -o rw,nosuid,nodev,allow_other
expect_eq "$(findmnt -n -o FSTYPE "$MNT")" fuse.lsmfs "type"
findmnt -n -o OPTIONS "$MNT" | grep -q allow_other || fail "allow_other not applied"
expect_eq "$(cat "$MNT/f")" via-mount "data"

step "umount stops the daemon; the data stays"
umount_and_wait
! is_mounted "$MNT" || fail "still mounted"

step "an fstab line 'DATA MNT fuse.lsmfs defaults 0 0' mounts with mount MNT"
printf '%s %s fuse.lsmfs defaults 0 0\n' "$DATA" "$MNT" >"$T/fstab"
mount -T "$T/fstab" "$MNT"
expect_eq "$(cat "$MNT/f")" via-mount "data after remount"
umount_and_wait

step "fstab options: noauto,nofail,_netdev,ro and ours pass through mount.fuse3"
printf '%s %s fuse.lsmfs noauto,nofail,_netdev,ro,cache_size=8M,verify=on 0 0\n' \
	"$DATA" "$MNT" >"$T/fstab"
mount -T "$T/fstab" "$MNT"
expect_eq "$(cat "$MNT/f")" via-mount "data"
findmnt -n -o OPTIONS "$MNT" | grep -q '^ro' || fail "not read-only"
expect_fail "Read-only" touch "$MNT/new"
umount_and_wait

step "a refusal reaches mount's caller as a failure with lsmfs's message"
mkdir "$T/unformatted"
expect_fail "mkfs.lsmfs" mount -t fuse.lsmfs "$T/unformatted" "$MNT"
! is_mounted "$MNT" || fail "mounted anyway"
