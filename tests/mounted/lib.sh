# lib.sh — sourced by every mounted test (tests/mounted/*.sh).
#
# Gives each test a fresh temp dir with a data dir ($DATA) and a mountpoint
# ($MNT), runs the build tree's mkfs.lsmfs ($MKFS) and lsmfs ($LSMFS), and
# traps EXIT so that whatever happens the filesystem is unmounted, the
# daemon stopped (killed if it will not stop) and the temp dir removed.
#
# A test is a list of `step "what it proves"` blocks under `set -e`: the
# first failing command ends it, and the summary line (Check's format, so
# that tests/run-test shows it) says how many steps passed.
#
# Needs root (or fusermount3 rights) and /dev/fuse; CI has both, and a test
# that cannot mount fails rather than skips.

set -eu

: "${top_builddir:=.}"
top_builddir=$(cd "$top_builddir" && pwd) # the tests cd into the mount
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
LSMFS=$top_builddir/fs/lsmfs
MKFS=$top_builddir/mkfs/mkfs.lsmfs
FSPROBE=$top_builddir/tests/mounted/fsprobe
for prog in "$LSMFS" "$MKFS"; do
	if [ ! -x "$prog" ]; then
		echo "$prog is not built (set top_builddir to the build tree)" >&2
		exit 1
	fi
done

T=$(mktemp -d "${TMPDIR:-/tmp}/lsmfs-test.XXXXXX")
DATA=$T/data
MNT=$T/mnt
LOG=$T/daemon.log
mkdir "$MNT"
: >"$LOG"

DAEMON_PID=     # the daemon serving $MNT, when we know it
STEPS=0
STEP="setting up"
START=$(date +%s)

step()
{
	STEPS=$((STEPS + 1))
	STEP=$*
	echo "== [$(($(date +%s) - START)) s] $STEP"
}

fail()
{
	echo "FAIL: $*" >&2
	exit 1
}

# Runs a command that must fail, and whose output must match a pattern (ERE).
expect_fail()
{
	pattern=$1
	shift
	if out=$("$@" 2>&1); then
		fail "succeeded but should not have: $*"
	fi
	echo "$out"
	echo "$out" | grep -Eq -- "$pattern" || fail "message of '$*' does not match /$pattern/"
}

is_mounted()
{
	mountpoint -q "$1" 2>/dev/null
}

# The pid of the daemon serving data dir $1, found by its arguments (the
# data dir is a unique temp path, matched as a whole argument), for
# daemons started in the background.
daemon_pid_of()
{
	for f in $(grep -lszxF -- "$1" /proc/[0-9]*/cmdline); do
		p=${f#/proc/}
		p=${p%/cmdline}
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = lsmfs ] && echo "$p"
	done
	return 0
}

# Whether process $1 runs (a zombie, dead but not yet reaped, does not).
pid_alive()
{
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] &&
		[ "$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Waits (at most 20 s) for our foreground daemon to end and returns its
# exit status; 124 if it would not end.
wait_daemon()
{
	if ! wait_gone "$DAEMON_PID" 200; then
		dump_daemon "$DAEMON_PID"
		return 124
	fi
	rc=0
	wait "$DAEMON_PID" || rc=$?
	DAEMON_PID=
	return "$rc"
}

# Prints where each thread of a daemon that will not end is waiting (and
# its backtraces when gdb is there), so that a hang can be told from slowness.
dump_daemon()
{
	echo "--- daemon $1 did not end; its threads:" >&2
	for t in /proc/"$1"/task/*; do
		echo "  $(cat "$t/comm" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)" \
			"state=$(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null)" >&2
	done
	if command -v gdb >/dev/null 2>&1; then
		timeout 60 gdb -q -batch -p "$1" -ex "thread apply all bt" 2>&1 |
			grep -E '^(Thread|#)' >&2 || true
	fi
}

# Waits up to $2 tenths of a second for process $1 to end.
wait_gone()
{
	n=0
	while pid_alive "$1"; do
		n=$((n + 1))
		[ "$n" -le "$2" ] || return 1
		sleep 0.1
	done
	return 0
}

fresh_fs()
{
	rm -rf "$DATA"
	"$MKFS" "$@" "$DATA" >/dev/null
}

# Mounts $DATA on $MNT with a foreground daemon (so its pid is ours and its
# messages go to $LOG), waits until the mount is there.
mount_fs()
{
	"$LSMFS" -f "$DATA" "$MNT" "$@" >>"$LOG" 2>&1 &
	DAEMON_PID=$!
	n=0
	until is_mounted "$MNT"; do
		if ! pid_alive "$DAEMON_PID"; then
			cat "$LOG" >&2
			DAEMON_PID=
			fail "lsmfs exited instead of mounting"
		fi
		n=$((n + 1))
		[ "$n" -le 200 ] || fail "lsmfs did not mount within 20 s"
		sleep 0.1
	done
}

# Unmounts and checks that the daemon ended cleanly (exit 0: no sanitizer
# report, no error on close).
umount_fs()
{
	fusermount3 -u "$MNT"
	if [ -n "$DAEMON_PID" ]; then
		rc=0
		wait_daemon || rc=$?
		if [ "$rc" -ne 0 ]; then
			cat "$LOG" >&2
			fail "lsmfs exited with status $rc after unmount"
		fi
	fi
}

remount_fs()
{
	umount_fs
	mount_fs "$@"
}

# kill -9 of the daemon: what a crash leaves. The dead mount is detached.
kill_fs()
{
	kill -9 "$DAEMON_PID"
	wait_daemon 2>/dev/null || true
	fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
}

# Used bytes of the mounted filesystem, from statfs.
fs_used()
{
	stat -f -c '%b %f %S' "$MNT" | awk '{ printf "%d\n", ($1 - $2) * $3 }'
}

cleanup()
{
	rc=$?
	set +e
	trap - EXIT INT TERM HUP
	kill "$WATCHDOG" 2>/dev/null
	if [ "$rc" -ne 0 ]; then
		echo "FAIL at step: $STEP" >&2
		if [ -s "$LOG" ]; then
			echo "--- daemon log (last 40 lines)" >&2
			tail -n 40 "$LOG" >&2
		fi
	fi
	cd /
	# Gentle first: an unmount ends the daemon's loop.
	if is_mounted "$MNT"; then
		[ -n "$DAEMON_PID" ] || DAEMON_PID=$(daemon_pid_of "$DATA" | head -n 1)
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null
	fi
	for pid in $DAEMON_PID $(daemon_pid_of "$DATA"); do
		if ! wait_gone "$pid" 100; then
			kill -9 "$pid" 2>/dev/null
			wait_gone "$pid" 50
		fi
	done
	# Last resort for a mount whose daemon is gone.
	if is_mounted "$MNT" || [ -n "$(findmnt -n "$MNT" 2>/dev/null)" ]; then
		fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	fi
	# A test's own undo (test_cleanup), once nothing is mounted any more.
	if command -v test_cleanup >/dev/null 2>&1; then
		test_cleanup
	fi
	rm -rf "$T"
	if [ "$rc" -eq 0 ]; then
		echo "100%: Checks: $STEPS, Failures: 0, Errors: 0"
	else
		echo "$(((STEPS - 1) * 100 / (STEPS > 0 ? STEPS : 1)))%: Checks: $STEPS, Failures: 1, Errors: 0"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A watchdog, so that a hung daemon cannot hang make check: after
# TEST_TIMEOUT seconds it kills the daemon (every request then fails),
# detaches the mount and stops the test, whose EXIT trap cleans up.
: "${TEST_TIMEOUT:=300}"
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$TEST_TIMEOUT" &
	s=$!
	wait "$s"
	echo "TIMEOUT: the test ran for more than $TEST_TIMEOUT s" >&2
	for pid in $(daemon_pid_of "$DATA"); do
		kill -9 "$pid"
	done
	fusermount3 -u -z "$MNT" 2>/dev/null
	kill -TERM $$
) &
WATCHDOG=$!
