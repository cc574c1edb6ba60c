# campaign.sh — sourced by the campaign scripts (tests/campaign/*.sh).
#
# Builds on tests/mounted/lib.sh (fresh temp dir, mkfs, mount, and an EXIT
# trap that always unmounts), and adds what the campaigns share: a printed
# seed (LSMFS_CAMPAIGN_SEED replays a run), the testers' paths, runs of fsx
# that keep the trace of a failure, and fsck.lsmfs -n when it is built.
#
# make stress runs these scripts for hours: it sets TEST_TIMEOUT (the
# watchdog of lib.sh) to match.

. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

FSX=$top_builddir/tests/fsx
FSSTRESS=$top_builddir/tests/fsstress
for prog in "$FSX" "$FSSTRESS"; do
	[ -x "$prog" ] || fail "$prog is not built"
done

SEED=${LSMFS_CAMPAIGN_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "campaign seed $SEED (LSMFS_CAMPAIGN_SEED=$SEED replays it)"

# Where a failing run's trace is kept: the temp dir goes away at exit.
KEEP_DIR=$top_builddir/tests/campaign-failures

# Testers started in the background, stopped by the EXIT trap (lib.sh runs
# test_cleanup) if the script ends before them.
BG_PIDS=
test_cleanup()
{
	for pid in $BG_PIDS; do
		kill -9 "$pid" 2>/dev/null
	done
	return 0
}

# start_fsx NAME FILE ARGS...: fsx in the background, with a trace; its
# output goes to the log. NAME is a shell name (letters, digits, _).
# finish_fsx NAME...: waits for them, keeps the trace of each that failed,
# and sets FSX_FAILED to their names.
start_fsx()
{
	name=$1
	file=$2
	shift 2
	"$FSX" -t "$T/$name.trace" "$@" "$file" >"$T/$name.out" 2>&1 &
	eval "FSX_PID_$name=\$!"
	BG_PIDS="$BG_PIDS $!"
}

finish_fsx()
{
	failed=
	for name in "$@"; do
		rc=0
		eval "wait \"\$FSX_PID_$name\"" || rc=$?
		sed "s/^/[$name] /" "$T/$name.out"
		if [ "$rc" -ne 0 ]; then
			mkdir -p "$KEEP_DIR"
			cp "$T/$name.trace" "$KEEP_DIR/"
			echo "fsx run $name failed (exit $rc); trace kept in $KEEP_DIR/$name.trace" >&2
			failed="$failed $name"
		fi
	done
	FSX_FAILED=$failed
}

# fsck.lsmfs -n of the (unmounted) data dir, when it is built.
check_fsck()
{
	fsck=
	for f in "$top_builddir/mkfs/fsck.lsmfs" "$top_builddir/fs/fsck.lsmfs"; do
		[ -x "$f" ] && fsck=$f
	done
	if [ -z "$fsck" ]; then
		echo "fsck.lsmfs not built: skipped"
		return 0
	fi
	"$fsck" -n "$DATA" || fail "fsck.lsmfs -n finds $DATA damaged"
}
