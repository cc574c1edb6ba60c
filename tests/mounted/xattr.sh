#!/bin/sh
# Extended attributes with setfattr/getfattr: text and binary values, empty
# ones, replace and remove, the size probe and ERANGE that getfattr goes
# through, the largest value, on files and directories, kept over remount.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
value() { getfattr --only-values -n "$1" "$2"; }

step "mkfs and mount"
fresh_fs
mount_fs
cd "$MNT"
touch f
mkdir d

step "set and get a text value, on a file and on a directory"
setfattr -n user.colour -v blue f
setfattr -n user.where -v here d
expect_eq "$(value user.colour f)" blue "file"
expect_eq "$(value user.where d)" here "directory"

step "binary and empty values round-trip"
setfattr -n user.bin -v 0x00ff10ee f
expect_eq "$(getfattr -e hex -n user.bin f | grep '^user.bin=')" "user.bin=0x00ff10ee" "binary"
setfattr -n user.empty f
expect_eq "$(getfattr -e hex -n user.empty f | grep '^user.empty')" "user.empty=0x" "empty"

step "getfattr -d lists every name (listxattr and its size probe)"
getfattr -d -m '^user\.' f | grep '^user\.' | LC_ALL=C sort >"$T/list"
printf 'user.bin=0sAP8Q7g==\nuser.colour="blue"\nuser.empty=""\n' >"$T/want"
diff -u "$T/want" "$T/list"

step "replace, then remove; a removed name is gone"
setfattr -n user.colour -v green f
expect_eq "$(value user.colour f)" green "replaced"
setfattr -x user.colour f
expect_fail "No such attribute" getfattr -n user.colour f
expect_fail "No such attribute" setfattr -x user.colour f

step "a 64 KiB value (the largest) comes back whole"
big=$(head -c 65536 /dev/zero | tr '\0' v)
setfattr -n user.big -v "$big" f
expect_eq "$(value user.big f | wc -c)" 65536 "size"
expect_eq "$(value user.big f)" "$big" "bytes"

step "many names: the list outgrows getfattr's first buffer"
i=0
while [ $i -lt 100 ]; do
	setfattr -n "user.name_number_$i" -v "$i" d
	i=$((i + 1))
done
expect_eq "$(getfattr -d -m '^user\.name_number' d | grep -c '^user\.')" 100 "count"

step "trusted namespace works for root; user attributes on symlinks are refused"
setfattr -n trusted.t -v root-only f
expect_eq "$(value trusted.t f)" root-only "trusted"
ln -s f link
expect_fail "not permitted" setfattr -h -n user.x -v 1 link

step "POSIX ACLs are not supported (as on ext4 mounted noacl); the mode stays the truth"
# A valid access ACL: user::rw-, group::r--, other::r--.
acl=0x0200000001000600ffffffff04000400ffffffff20000400ffffffff
expect_fail "not supported" setfattr -n system.posix_acl_access -v $acl f
expect_fail "not supported" setfattr -n system.posix_acl_default -v $acl d
expect_fail "No such attribute" getfattr -n system.posix_acl_access f

step "attributes survive unmount and remount"
cd /
remount_fs
cd "$MNT"
expect_eq "$(value user.bin f | od -An -tx1 | tr -d ' \n')" 00ff10ee "binary"
expect_eq "$(value user.big f)" "$big" "big"
expect_eq "$(value user.where d)" here "directory"
expect_eq "$(getfattr -d -m '^user\.name_number' d | grep -c '^user\.')" 100 "count"

step "removing the file takes its attributes (a new file has none)"
rm f
touch f
expect_eq "$(getfattr -d -m - f 2>/dev/null | grep -c '^[a-z]' || true)" 0 "attributes of a new file"
cd /
umount_fs
