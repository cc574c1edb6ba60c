#!/bin/sh
# Permissions as an ordinary user sees them (default_permissions, so the
# kernel checks the modes the daemon returns): refused reads and writes,
# ownership of what the user creates, the umask, and set-user-ID and
# set-group-ID bits cleared when another user writes, truncates or
# fallocates (by the daemon, which handles KILLPRIV_V2, and shown at once
# by stat; with killpriv_v2=off by the kernel, as before).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
# Runs a command as nobody (uid and gid 65534, no supplementary groups).
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

step "mkfs and mount with allow_other (as root)"
fresh_fs
chmod 755 "$T"
mount_fs -o allow_other
chmod 755 "$MNT"

step "the owner's modes keep another user out"
echo secret >"$MNT/secret"
chmod 600 "$MNT/secret"
expect_fail "Permission denied" as_nobody cat "$MNT/secret"
expect_fail "Permission denied" as_nobody sh -c "echo x >>'$MNT/secret'"
expect_fail "Permission denied" as_nobody touch "$MNT/new-in-root"
expect_fail "Operation not permitted" as_nobody chmod 666 "$MNT/secret"
expect_fail "Operation not permitted" as_nobody chown 65534 "$MNT/secret"

step "what a user creates is theirs, with the umask applied"
mkdir "$MNT/pub"
chmod 1777 "$MNT/pub"
as_nobody sh -c "umask 027; echo mine >'$MNT/pub/f'; mkdir '$MNT/pub/d'"
expect_eq "$(stat -c '%u:%g %a' "$MNT/pub/f")" "65534:65534 640" "file"
expect_eq "$(stat -c '%u:%g %a' "$MNT/pub/d")" "65534:65534 750" "directory"
expect_eq "$(as_nobody cat "$MNT/pub/f")" mine "read back by its owner"

step "the sticky bit: another user may not remove what is not theirs"
touch "$MNT/pub/roots"
expect_fail "Operation not permitted" as_nobody rm -f "$MNT/pub/roots"

step "a write by another user clears set-user-ID and set-group-ID"
echo x >"$MNT/pub/suid"
chmod 6777 "$MNT/pub/suid"
as_nobody sh -c "echo more >>'$MNT/pub/suid'"
expect_eq "$(stat -c %a "$MNT/pub/suid")" 777 "mode after a write"

step "so does a truncate by another user"
chmod 6777 "$MNT/pub/suid"
as_nobody truncate -s 1 "$MNT/pub/suid"
expect_eq "$(stat -c %a "$MNT/pub/suid")" 777 "mode after truncate"

step "and a fallocate by another user"
chmod 6777 "$MNT/pub/suid"
as_nobody fallocate -l 65536 "$MNT/pub/suid"
expect_eq "$(stat -c %a "$MNT/pub/suid")" 777 "mode after fallocate"

step "the kernel clears them itself with killpriv_v2=off"
remount_fs -o allow_other,killpriv_v2=off
chmod 6777 "$MNT/pub/suid"
as_nobody sh -c "echo more >>'$MNT/pub/suid'"
expect_eq "$(stat -c %a "$MNT/pub/suid")" 777 "mode after a write"

step "modes and owners are the same after remount"
remount_fs -o allow_other
expect_eq "$(stat -c '%u:%g %a' "$MNT/pub/f")" "65534:65534 640" "file"
expect_fail "Permission denied" as_nobody cat "$MNT/secret"
umount_fs
