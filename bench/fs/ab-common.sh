# ab-common.sh — what the A/B scripts of bench/fs share (sourced): their
# arguments A_BUILDDIR B_BUILDDIR [REPS], the work dir (WORK, default a new
# temp dir) with its mount point, the unmount on exit, and a fresh mount.
# Sets a, b, reps, work, mnt; ab_mount BUILD mounts a fresh data dir with
# that build and sets pid (its daemon); ab_umount unmounts and waits for the
# daemon to exit (the next mount needs its lock).
set -u
a=$(cd "$1" && pwd) || exit 2
b=$(cd "$2" && pwd) || exit 2
reps=${3:-3}
work=${WORK:-$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")}
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null; rm -rf "$work/data"' EXIT

ab_mount() {
	fusermount3 -u "$mnt" 2>/dev/null
	rm -rf "$work/data" && mkdir -p "$work/data" "$mnt" || exit 1
	"$1/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
	"$1/fs/lsmfs" "$work/data" "$mnt" || exit 1
	pid=$(pgrep -n -f "lsmfs.*$work/data") || exit 1
}

ab_umount() {
	fusermount3 -u "$mnt"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
