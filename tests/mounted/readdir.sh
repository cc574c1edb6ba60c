#!/bin/sh
# readdir stays correct while the directory changes: with other names
# created and removed all the time, every listing (plain getdents, and
# readdirplus through ls -l) shows each name that exists throughout
# exactly once. A large directory is listed in many kernel requests, each
# resumed at the core's cookie, so this is the cookies' test too.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

N=1000
step "mkfs and mount; $N names that stay"
fresh_fs
mount_fs
mkdir "$MNT/d"
i=0
while [ $i -lt $N ]; do
	: >"$MNT/d/stay_$i"
	i=$((i + 1))
done

step "list again and again while other names come and go"
(
	j=0
	while [ ! -e "$T/stop" ]; do
		: >"$MNT/d/churn_$j"
		[ $j -lt 20 ] || rm -f "$MNT/d/churn_$((j - 20))"
		j=$((j + 1))
	done
) &
churner=$!
k=0
bad=
while [ $k -lt 20 ]; do
	if [ $((k % 2)) -eq 0 ]; then
		ls -f "$MNT/d" >"$T/list"
	else
		# (a name removed between getdents and its stat is ls's complaint)
		ls -l "$MNT/d" 2>/dev/null | awk '{ print $NF }' >"$T/list"
	fi
	got=$(grep -c '^stay_' "$T/list" || true)
	dups=$(grep '^stay_' "$T/list" | sort | uniq -d | wc -l)
	if [ "$got" -ne $N ] || [ "$dups" -ne 0 ]; then
		bad="listing $k: $got stable names, $dups repeated"
		break
	fi
	k=$((k + 1))
done
touch "$T/stop"
wait "$churner"
[ -z "$bad" ] || fail "$bad"
echo "$k listings, each with all $N stable names once"

umount_fs
