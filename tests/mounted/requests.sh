#!/bin/sh
# The FUSE requests a write costs: with FUSE_HANDLE_KILLPRIV_V2 negotiated
# (fs/fuse/fuse_killpriv.c) the kernel stops asking for security.capability
# before each write once it has found none on the file; with
# killpriv_v2=off it asks every time; with writeback=off the kernel sends
# no requests to carry its own file times. Counted from the daemon's -d log.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

# 50 appends of 4 KiB, each followed by fsync; prints the GETXATTR requests they cost.
getxattrs_per_50_writes()
{
	before=$(grep -c 'opcode: GETXATTR' "$LOG" || true)
	for i in $(seq 1 50); do
		dd if=/dev/zero of="$MNT/f" bs=4k count=1 seek="$i" conv=notrunc,fsync status=none ||
			fail "write $i"
	done
	sleep 0.5 # -d logs a request after its reply
	after=$(grep -c 'opcode: GETXATTR' "$LOG" || true)
	echo $((after - before))
}

step "mkfs and mount with -d"
fresh_fs
mount_fs -d
: >"$MNT/f"

step "50 writes + fsync ask for the capability xattr at most once"
n=$(getxattrs_per_50_writes)
echo "GETXATTR requests: $n"
[ "$n" -le 1 ] || fail "$n GETXATTR requests for 50 writes"

step "with killpriv_v2=off the kernel asks before every write"
remount_fs -d -o killpriv_v2=off
n=$(getxattrs_per_50_writes)
echo "GETXATTR requests: $n"
[ "$n" -ge 50 ] || fail "only $n GETXATTR requests for 50 writes"

# 50 renames; prints the SETATTR requests they cost.
setattrs_per_50_renames()
{
	for i in $(seq 1 50); do : >"$MNT/r$i"; done
	before=$(grep -c 'opcode: SETATTR' "$LOG" || true)
	for i in $(seq 1 50); do mv "$MNT/r$i" "$MNT/s$i" || fail "rename $i"; done
	sleep 0.5
	after=$(grep -c 'opcode: SETATTR' "$LOG" || true)
	rm -f "$MNT"/s*
	echo $((after - before))
}

step "a rename costs a SETATTR of the kernel's times with writeback on, none with it off"
n=$(setattrs_per_50_renames)
echo "SETATTR requests, writeback on: $n"
[ "$n" -ge 50 ] || fail "only $n SETATTR requests for 50 renames"
remount_fs -d -o writeback=off
n=$(setattrs_per_50_renames)
echo "SETATTR requests, writeback off: $n"
[ "$n" -eq 0 ] || fail "$n SETATTR requests for 50 renames"

step "a capability set after writes is still dropped by the next write"
remount_fs -d
echo first >>"$MNT/f" # the kernel finds no capability and stops asking
setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 "$MNT/f" ||
	fail "cannot set a capability"
getfattr -n security.capability "$MNT/f" >/dev/null 2>&1 || fail "the capability did not stay"
echo more >>"$MNT/f"
if getfattr -n security.capability "$MNT/f" >/dev/null 2>&1; then
	fail "a write left security.capability in place"
fi
umount_fs
