#!/bin/sh
# kill -9 campaign: workloads (creates, writes, appends, truncates, renames,
# links, unlinks, mkdir/rmdir, chmod, xattrs, fsyncs) log every operation
# outside the filesystem the moment it returns; the daemon is killed with
# SIGKILL at a random moment; after the remount every operation that
# returned must be there (the daemon acknowledged it after its WAL write),
# the one in flight may or may not be, and fsck.lsmfs -n (when built) finds
# the data directory clean, right after the crash and at the end. A
# shared-tree fsstress runs alongside; its tree must check clean after the
# remount.
#
# LSMFS_CAMPAIGN_CYCLES (20; make stress 200) sets the cycles,
# LSMFS_CAMPAIGN_SEED replays the workloads (the kill moments are timing).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/campaign/campaign.sh"

: "${LSMFS_CAMPAIGN_CYCLES:=20}"
WORKERS=2

# verify_logs FIRST LAST: every workload of cycles FIRST..LAST against its log.
verify_logs()
{
	v=$1
	while [ "$v" -le "$2" ]; do
		for w in $(seq 1 "$WORKERS"); do
			"$FSSTRESS" -d "$MNT/c$v-w$w" -V "$T/c$v-w$w.log" ||
				fail "cycle $v worker $w: an acknowledged operation is missing"
		done
		v=$((v + 1))
	done
}

step "mkfs and mount"
fresh_fs
mount_fs

c=1
while [ "$c" -le "$LSMFS_CAMPAIGN_CYCLES" ]; do
	# 0.2 to 1.5 s, from the seed and the cycle (a 32-bit integer hash).
	x=$(((SEED + c * 7919) % 4294967296))
	x=$(((x ^ (x >> 16)) * 73244475 % 4294967296))
	x=$(((x ^ (x >> 16)) * 73244475 % 4294967296))
	ms=$((200 + (x ^ (x >> 16)) % 1300))
	delay=$((ms / 1000)).$((ms % 1000 / 100))$((ms % 100 / 10))$((ms % 10))
	step "cycle $c: $WORKERS workloads, kill -9 of the daemon after $delay s"
	# Alongside, two processes of the shared-tree fsstress (collisions,
	# symlinks, xattrs, renames that exchange), whose tree must check clean.
	"$FSSTRESS" -d "$MNT/c$c-shared" -p 2 -n 1000000 -S "$((SEED + 100 * c))" \
		>"$T/c$c-shared.out" 2>&1 &
	shared=$!
	BG_PIDS="$BG_PIDS $shared"
	pids=
	for w in $(seq 1 "$WORKERS"); do
		"$FSSTRESS" -d "$MNT/c$c-w$w" -L "$T/c$c-w$w.log" -n 1000000 \
			-S "$((SEED + 100 * c + w))" >"$T/c$c-w$w.out" 2>&1 &
		pids="$pids $!"
		BG_PIDS="$BG_PIDS $!"
	done
	sleep "$delay"
	kill -9 "$DAEMON_PID"
	wait_daemon || true
	# The workloads see the connection gone (exit 3); any other end is a failure.
	w=0
	for pid in $pids; do
		w=$((w + 1))
		rc=0
		wait "$pid" || rc=$?
		cat "$T/c$c-w$w.out"
		[ "$rc" -eq 3 ] || [ "$rc" -eq 0 ] || fail "workload $w exited with status $rc"
	done
	rc=0
	wait "$shared" || rc=$?
	cat "$T/c$c-shared.out"
	[ "$rc" -eq 3 ] || fail "the shared-tree fsstress exited with status $rc"
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
	check_fsck

	step "cycle $c: remount; every operation that returned is there"
	mount_fs
	if grep -q "went away before" "$T/c$c-shared.out"; then
		step "cycle $c: the daemon died before the shared tree was made: nothing to check"
	else
		"$FSSTRESS" -d "$MNT/c$c-shared" -c || fail "the shared tree is inconsistent"
	fi
	# This cycle's workloads; every 5 cycles the last 5 cycles' again (after
	# more crashes and recoveries), every 50 all of them.
	if [ $((c % 50)) -eq 0 ]; then
		verify_logs 1 "$c"
	elif [ $((c % 5)) -eq 0 ]; then
		verify_logs $((c - 4)) "$c"
	else
		verify_logs "$c" "$c"
	fi
	c=$((c + 1))
done

step "all workloads once more; unmount; fsck.lsmfs -n"
verify_logs 1 "$LSMFS_CAMPAIGN_CYCLES"
umount_fs
check_fsck
