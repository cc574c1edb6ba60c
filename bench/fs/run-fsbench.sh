#!/bin/bash
# run-fsbench.sh SRCDIR BUILDDIR — what `make fsbench` runs (and, with tiny
# sizes, tests/fsbench-smoke.sh).
#
# lsmfs beside what a user would use instead, on the same disk, in the same
# run: a plain directory of the host filesystem ("ext4"), libfuse's own
# low-level passthrough example over a plain directory ("pt", compiled here
# from the source libfuse3-dev ships, unchanged), and lsmfs on a freshly
# made data dir ("lsmfs"). Each repetition runs every target in turn
# (interleaved, so that a change of load on the machine hits all three);
# each FUSE target is mounted freshly for each repetition; the page cache is
# dropped before every cold phase.
#
# 1. Builds an optimised tree (-O2 -g, no sanitizers) of lsmfs, mkfs.lsmfs
#    and metabench in BUILDDIR/fsbench-opt (the tree `make fsbench` runs in
#    may be a sanitizer build; bench/build-optimised.sh, as make bench
#    does), and passthrough_ll there. FSBENCH_NO_OPT=1
#    uses BUILDDIR's own binaries instead (the smoke test does).
# 2. Runs the workloads (see docs/BENCHMARKS.md, "lsmfs-bench"): metadata
#    (metabench: flat dir and 3-level tree), trees (cp -a, tar x, find, du,
#    grep -r, rm -rf), data (fio), reclaim, dedup, and the 1M-file scale run
#    (lsmfs only: the passthrough daemon keeps a file open per inode the
#    kernel knows, and the open-file limit is 20,000).
# 3. Writes FSBENCH_OUT (default BUILDDIR/fsbench-results): raw.tsv (one
#    line per measurement), fsbench.md (medians, min-max, ratios, targets,
#    headed by the command, machine and date), fsbench.dat and fsbench.png.
#
# Environment (defaults for FSBENCH_SIZE=full; FSBENCH_SIZE=smoke makes all
# of them tiny): FSBENCH_DIR (work dir, BUILDDIR/fsbench-work), FSBENCH_OUT,
# FSBENCH_REPS (3), FSBENCH_META_N (19000 files), FSBENCH_TREE_SRC
# (/usr/include), FSBENCH_DATA_MB (1024), FSBENCH_FIO_TIME (10s; fio
# runtime of the random and fsync runs), FSBENCH_SETTLE (2 s before dedup
# is measured),
# FSBENCH_SCALE_FILES (1000000), FSBENCH_SCALE_DIRS (1000),
# FSBENCH_RECLAIM_SECS (60), FSBENCH_TARGETS ("ext4 pt lsmfs"),
# FSBENCH_GROUPS ("meta tree data reclaim dedup scale"), FSBENCH_LSMFS_OPTS
# (extra -o options for lsmfs), FSBENCH_CMD (the command line to quote).
# shellcheck disable=SC2317 # functions called through "run_$g" and traps
set -u
srcdir=$(cd "$1" && pwd) || exit 2
builddir=$(cd "$2" && pwd) || exit 2

size=${FSBENCH_SIZE:-full}
case $size in
full)
	d_meta=19000 d_tree="/usr/include" d_data=1024 d_fio=10s d_sfiles=1000000 d_sdirs=1000
	d_reclaim=60 d_reps=3 d_settle=2
	;;
smoke)
	d_meta=200 d_tree="$srcdir/lsm" d_data=4 d_fio=200ms d_sfiles=2000 d_sdirs=20
	d_reclaim=5 d_reps=1 d_settle=0
	;;
*)
	echo "run-fsbench: FSBENCH_SIZE must be full or smoke, not '$size'" >&2
	exit 2
	;;
esac
work=${FSBENCH_DIR:-$builddir/fsbench-work}
out=${FSBENCH_OUT:-$builddir/fsbench-results}
reps=${FSBENCH_REPS:-$d_reps}
meta_n=${FSBENCH_META_N:-$d_meta}
tree_src=${FSBENCH_TREE_SRC:-$d_tree}
data_mb=${FSBENCH_DATA_MB:-$d_data}
fio_time=${FSBENCH_FIO_TIME:-$d_fio}
settle=${FSBENCH_SETTLE:-$d_settle}
scale_files=${FSBENCH_SCALE_FILES:-$d_sfiles}
scale_dirs=${FSBENCH_SCALE_DIRS:-$d_sdirs}
reclaim_secs=${FSBENCH_RECLAIM_SECS:-$d_reclaim}
targets=${FSBENCH_TARGETS:-ext4 pt lsmfs}
groups=${FSBENCH_GROUPS:-meta tree data reclaim dedup scale}
lsmfs_opts=${FSBENCH_LSMFS_OPTS:-}
cmd=${FSBENCH_CMD:-make fsbench}

say() { printf '== [%4ds] %s\n' "$(($(date +%s) - started))" "$*" >&2; }
die() {
	printf 'run-fsbench: %s\n' "$*" >&2
	exit 1
}
started=$(date +%s)

for v in "$reps" "$meta_n" "$data_mb" "$scale_files" "$scale_dirs" "$reclaim_secs"; do
	case $v in '' | *[!0-9]* | 0) die "sizes and counts must be positive integers (got '$v')" ;; esac
done
case $fio_time in *[0-9]s | *[0-9]ms) ;; *) die "FSBENCH_FIO_TIME must be like 10s or 300ms, not '$fio_time'" ;; esac
case $settle in '' | *[!0-9]*) die "FSBENCH_SETTLE must be a number of seconds" ;; esac
[ "$meta_n" -gt 155 ] || die "FSBENCH_META_N must be more than 155 (the tree's directories)"
[ -d "$tree_src" ] || die "FSBENCH_TREE_SRC '$tree_src' is not a directory"
for t in $targets; do
	case $t in ext4 | pt | lsmfs) ;; *) die "unknown target '$t' (ext4, pt, lsmfs)" ;; esac
done
for g in $groups; do
	case $g in meta | tree | data | reclaim | dedup | scale) ;;
	*) die "unknown group '$g' (meta tree data reclaim dedup scale)" ;;
	esac
done

# ---- what must be there: nothing is installed here, only named ----
examples=/usr/share/doc/libfuse3-dev/examples
missing=""
command -v fio >/dev/null 2>&1 || missing="$missing fio"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
[ -r "$examples/passthrough_ll.c" ] && pkg-config --exists fuse3 2>/dev/null ||
	missing="$missing libfuse3-dev"
command -v fusermount3 >/dev/null 2>&1 || missing="$missing fuse3"
if [ -n "$missing" ]; then
	die "missing:$missing — install with: apt-get install$missing"
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (it mounts, and drops the page cache)"
[ -c /dev/fuse ] || die "/dev/fuse is missing"

# ---- 1. the binaries ----
# The commit the binaries are built from (the working tree may differ).
rev=$(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$srcdir" status --porcelain -uno 2>/dev/null)" ]; then
	rev="$rev (working tree with uncommitted changes)"
fi
if [ "${FSBENCH_NO_OPT:-0}" = 1 ]; then
	bin=$builddir
	say "using the binaries of $builddir as they are (FSBENCH_NO_OPT=1)"
else
	# shellcheck source=bench/build-optimised.sh
	. "$srcdir/bench/build-optimised.sh"
	build_optimised "$srcdir" "$builddir" fsbench-opt fs/lsmfs mkfs/mkfs.lsmfs \
		bench/fs/metabench || die "cannot build the optimised tree"
	bin=$opt_tree
fi
LSMFS=$bin/fs/lsmfs
MKFS=$bin/mkfs/mkfs.lsmfs
METABENCH=$bin/bench/fs/metabench
for p in "$LSMFS" "$MKFS" "$METABENCH"; do
	[ -x "$p" ] || die "$p is not built"
done
mkdir -p "$work" "$out" || die "cannot create $work or $out"
work=$(cd "$work" && pwd)
PT=$work/passthrough_ll
if [ ! -x "$PT" ] || [ "$examples/passthrough_ll.c" -nt "$PT" ]; then
	say "compiling passthrough_ll from $examples (unchanged) into $work"
	# shellcheck disable=SC2046 # pkg-config prints a word list
	cc -O2 -I"$examples" -o "$PT" "$examples/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) || die "cannot compile passthrough_ll"
fi

# ---- mounting, always undone ----
mnt_pid=""     # the FUSE daemon we started, if one runs
mnt_dir=""     # where it is mounted
cleanup() {
	trap - EXIT INT TERM HUP
	umount_target || true
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM HUP

fs_type=$(stat -f -c %T "$work")
mnt_src=$(findmnt -n -o SOURCE,FSTYPE -T "$work" | tr -s ' ')

mount_target() {
	t=$1
	ROOT=$work/$t
	case $t in
	ext4)
		rm -rf "$ROOT" && mkdir -p "$ROOT"
		BACKING=$ROOT
		return
		;;
	pt)
		BACKING=$work/pt-backing
		rm -rf "$BACKING" && mkdir -p "$BACKING" "$ROOT"
		# What a user of the example gets: its defaults (cache=auto:
		# 1 s entry/attr timeouts, page cache kept while unchanged, no
		# writeback cache), multi-threaded.
		"$PT" -f -o source="$BACKING" "$ROOT" >"$work/pt.log" 2>&1 &
		;;
	lsmfs)
		BACKING=$work/lsmfs-data
		rm -rf "$BACKING" && mkdir -p "$ROOT"
		"$MKFS" "$BACKING" >/dev/null || die "mkfs.lsmfs failed"
		# shellcheck disable=SC2086 # no -o when there are no options
		"$LSMFS" -f "$BACKING" "$ROOT" ${lsmfs_opts:+-o "$lsmfs_opts"} >"$work/lsmfs.log" 2>&1 &
		;;
	esac
	mnt_pid=$!
	mnt_dir=$ROOT
	n=0
	until mountpoint -q "$ROOT"; do
		kill -0 "$mnt_pid" 2>/dev/null || {
			cat "$work/$t.log" >&2
			mnt_pid=""
			die "$t exited instead of mounting"
		}
		n=$((n + 1))
		[ $n -le 200 ] || die "$t did not mount within 20 s"
		sleep 0.1
	done
}

# Unmounts what mount_target mounted and waits for its daemon; kills it (and
# detaches the mount) if it will not end.
umount_target() {
	[ -n "$mnt_dir" ] || return 0
	if mountpoint -q "$mnt_dir"; then
		fusermount3 -u "$mnt_dir" 2>/dev/null || fusermount3 -u -z "$mnt_dir" 2>/dev/null
	fi
	if [ -n "$mnt_pid" ]; then
		n=0
		while kill -0 "$mnt_pid" 2>/dev/null && [ $n -lt 300 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		if kill -0 "$mnt_pid" 2>/dev/null; then
			say "daemon $mnt_pid did not end: killing it"
			kill -9 "$mnt_pid" 2>/dev/null
		fi
		wait "$mnt_pid" 2>/dev/null
	fi
	if mountpoint -q "$mnt_dir" 2>/dev/null; then
		fusermount3 -u -z "$mnt_dir" 2>/dev/null || umount -l "$mnt_dir" 2>/dev/null
	fi
	mnt_pid=""
	mnt_dir=""
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

raw=$out/raw.tsv
status=0
record() { # workload value unit
	case ${2#-} in '' | *[!0-9.]* | *.*.*)
		failed "$1: not a number: '$2'"
		return
		;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$target" "$1" "$2" "$3" >>"$raw"
}
failed() {
	say "FAILED: $target $*"
	status=1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# Runs "$@" and records its wall time under workload $w (seconds).
timed() {
	w=$1
	shift
	t0=$(now)
	if "$@" >"$work/cmd.out" 2>&1; then
		record "$w" "$(elapsed "$t0")" s
	else
		# grep -r finding nothing exits 1: that is its success here.
		if [ "$w" = tree-grep ] && [ ! -s "$work/cmd.out" ]; then
			record "$w" "$(elapsed "$t0")" s
		else
			failed "$w: $* ($(head -c 300 "$work/cmd.out"))"
		fi
	fi
}

# metabench PHASE ARGS -> records ops/s as workload $1.
meta() {
	w=$1
	shift
	if line=$("$METABENCH" "$@" 2>&1); then
		record "$w" "$(echo "$line" | awk '{ print $4 }')" ops/s
	else
		failed "$w: $line"
		return 1
	fi
}

run_meta() {
	for layout in flat tree; do
		d=$ROOT/meta-$layout
		mkdir -p "$d"
		if [ "$layout" = tree ]; then
			tf=-t
			n=$((meta_n - 155)) # the tree's 155 dirs count in the limit
		else
			tf=
			n=$meta_n
		fi
		p=meta-$layout
		# shellcheck disable=SC2086 # $tf is empty or one flag
		{
			meta $p-create create -n $n $tf "$d" &&
				drop_caches &&
				meta $p-stat-cold stat -n $n $tf "$d" &&
				meta $p-stat-warm stat -n $n $tf "$d" &&
				drop_caches &&
				meta $p-lsl lsl -n $n $tf "$d" &&
				meta $p-rename rename -n $n $tf "$d" &&
				meta $p-unlink unlink -r -n $n $tf "$d"
		} || true
		rm -rf "$d"
	done
}

run_tree() {
	base=$(basename "$tree_src")
	drop_caches
	timed tree-cp cp -a "$tree_src" "$ROOT/cp"
	rm -rf "$ROOT/cp"
	drop_caches
	timed tree-tarx tar -x -f "$work/src/tree.tar" -C "$ROOT"
	drop_caches
	timed tree-find find "$ROOT/$base"
	drop_caches
	timed tree-du du -s "$ROOT/$base"
	# How much the unpacked tree takes by du's count (st_blocks), in KiB.
	record tree-dusize "$(du -sk "$ROOT/$base" | cut -f1)" KiB
	drop_caches
	timed tree-grep grep -r -q -e 'no-such-string-in-any-header-qqzx' "$ROOT/$base"
	drop_caches
	timed tree-rmrf rm -rf "$ROOT/$base"
}

# fio, one job; its terse (v3) line goes to $work/fio.out. Sizes in MiB.
fio_job() {
	fio --output-format=terse --terse-version=3 --ioengine=psync --fallocate=none \
		--directory="$ROOT" "$@" >"$work/fio.out" 2>"$work/fio.err"
}
fio_field() { awk -F';' -v f="$1" 'NR == 1 { print $f }' "$work/fio.out"; }
# MiB/s of the last fio job from its io KiB (field $1) and wall time $2.
fio_rate() { awk -v kb="$(fio_field "$1")" -v s="$2" 'BEGIN { printf "%.1f", kb / 1024 / s }'; }

# Bytes lsmfs's daemon has had written so far (/proc/PID/io write_bytes:
# what its writes dirtied, whenever the kernel writes it back), once the
# figure has stopped growing for 2 s (the engine is idle: flushes, merges
# and collection done), at most 60 s. Empty for other targets.
daemon_written() {
	[ "$target" = lsmfs ] && [ -n "$mnt_pid" ] || return 0
	dw_last=-1
	dw_same=0
	dw_i=0
	while [ "$dw_i" -lt 120 ] && [ "$dw_same" -lt 4 ]; do
		dw_now=$(awk '/^write_bytes/ { print $2 }' "/proc/$mnt_pid/io" 2>/dev/null)
		if [ "$dw_now" = "$dw_last" ]; then dw_same=$((dw_same + 1)); else dw_same=0; fi
		dw_last=$dw_now
		dw_i=$((dw_i + 1))
		sleep 0.5
	done
	echo "$dw_last"
}
# Records workload $1: bytes the daemon wrote since $2 (daemon_written) per user byte ($3).
record_wamp() {
	[ -n "$2" ] || return 0
	rw_now=$(daemon_written)
	record "$1" "$(awk -v a="$rw_now" -v b="$2" -v u="$3" 'BEGIN { printf "%.3f", (a - b) / u }')" '×'
}

run_data() {
	# Sequential write of DATA MiB, fsync'd at the end (what is not on
	# the disk is not written yet), wall time from open to fsync.
	w0=$(daemon_written)
	t0=$(now)
	if fio_job --name=seqwrite --filename=fio.dat --rw=write --bs=1M --size="${data_mb}M" \
		--end_fsync=1; then
		record data-seqwrite "$(fio_rate 47 "$(elapsed "$t0")")" MiB/s
		record_wamp data-seqwrite-wamp "$w0" "$((data_mb * 1048576))"
	else
		failed "fio seqwrite: $(head -c 300 "$work/fio.err")"
		return
	fi
	drop_caches
	t0=$(now)
	if fio_job --name=seqread --filename=fio.dat --rw=read --bs=1M --size="${data_mb}M"; then
		record data-seqread-cold "$(fio_rate 6 "$(elapsed "$t0")")" MiB/s
	else
		failed "fio seqread: $(head -c 300 "$work/fio.err")"
	fi
	w0=$(daemon_written)
	t0=$(now)
	if fio_job --name=randwrite --filename=fio.dat --rw=randwrite --bs=4k \
		--size="${data_mb}M" --time_based --runtime="$fio_time" --end_fsync=1; then
		record data-randwrite "$(fio_rate 47 "$(elapsed "$t0")")" MiB/s
		record_wamp data-randwrite-wamp "$w0" "$(($(fio_field 47) * 1024))"
	else
		failed "fio randwrite: $(head -c 300 "$work/fio.err")"
	fi
	drop_caches
	t0=$(now)
	if fio_job --name=randread --filename=fio.dat --rw=randread --bs=4k \
		--size="${data_mb}M" --time_based --runtime="$fio_time"; then
		record data-randread-cold "$(fio_rate 6 "$(elapsed "$t0")")" MiB/s
	else
		failed "fio randread: $(head -c 300 "$work/fio.err")"
	fi
	# 4 KiB appends, each followed by fsync: fio's own count (field 49,
	# write IOPS) over its runtime, every fsync inside it.
	if fio_job --name=fsyncwrite --filename=fsync.dat --rw=write --bs=4k --size=64M \
		--time_based --runtime="$fio_time" --fsync=1; then
		record data-fsyncwrite "$(fio_field 49)" IOPS
	else
		failed "fio fsync write: $(head -c 300 "$work/fio.err")"
	fi
	rm -f "$ROOT/fsync.dat"
	count_fsync_flushes
}

# lsmfs only, with strace there: the fsync and fdatasync calls the daemon
# makes (all threads, background work included) while fio makes 256
# appends of 4 KiB each followed by an fsync: device flushes per fsync.
count_fsync_flushes() {
	[ "$target" = lsmfs ] && [ -n "$mnt_pid" ] && command -v strace >/dev/null || return 0
	strace -f -c -e trace=fsync,fdatasync -o "$work/strace.out" -p "$mnt_pid" 2>/dev/null &
	st_pid=$!
	sleep 1 # attached to every thread
	if fio_job --name=fsynccount --filename=fsync.dat --rw=write --bs=4k --size=1M --fsync=1; then
		sleep 0.5
		kill -INT "$st_pid" 2>/dev/null
		wait "$st_pid" 2>/dev/null
		# strace -c: % time, seconds, usecs/call, calls, [errors], syscall
		calls=$(awk '$NF == "fsync" || $NF == "fdatasync" { s += $4 } END { print s + 0 }' \
			"$work/strace.out")
		record data-fsync-flushes "$(awk -v c="$calls" 'BEGIN { printf "%.2f", c / 256 }')" '×'
	else
		kill -INT "$st_pid" 2>/dev/null
		wait "$st_pid" 2>/dev/null
		failed "fio fsync count: $(head -c 300 "$work/fio.err")"
	fi
	rm -f "$ROOT/fsync.dat"
}

used_bytes() { stat -f -c '%b %f %S' "$1" | awk '{ printf "%.0f\n", ($1 - $2) * $3 }'; }

# Deletes the DATA MiB file the data phase wrote and polls df of the target
# until 95 % of it is given back or FSBENCH_RECLAIM_SECS pass.
run_reclaim() {
	if [ ! -f "$ROOT/fio.dat" ]; then
		fio_job --name=fill --filename=fio.dat --rw=write --bs=1M --size="${data_mb}M" \
			--end_fsync=1 || {
			failed "fio fill for reclaim: $(head -c 300 "$work/fio.err")"
			return
		}
	fi
	sync -f "$ROOT/fio.dat"
	before=$(used_bytes "$ROOT")
	want=$((data_mb * 1048576))
	t0=$(now)
	rm -f "$ROOT/fio.dat"
	sync -f "$ROOT"
	while :; do
		freed=$((before - $(used_bytes "$ROOT")))
		secs=$(elapsed "$t0")
		if [ $((freed * 100)) -ge $((want * 95)) ] ||
			awk -v s="$secs" -v m="$reclaim_secs" 'BEGIN { exit !(s >= m) }'; then
			break
		fi
		sleep 0.2
	done
	record reclaim-pct "$(awk -v f="$freed" -v w="$want" 'BEGIN { printf "%.1f", f * 100 / w }')" '%'
	record reclaim-secs "$secs" s
}

# The same DATA MiB written twice (dd from one source file, fsync'd): bytes
# the backing store grew by, in units of the file's size.
run_dedup() {
	before=$(du -sb "$BACKING" | cut -f1)
	for f in d1 d2; do
		dd if="$work/src/rand.bin" of="$ROOT/$f" bs=1M conv=fsync status=none ||
			{
				failed "dd for dedup"
				return
			}
	done
	sleep "$settle"
	after=$(du -sb "$BACKING" | cut -f1)
	record dedup-x "$(awk -v a="$after" -v b="$before" -v w="$((data_mb * 1048576))" \
		'BEGIN { printf "%.3f", (a - b) / w }')" '× file'
	rm -f "$ROOT/d1" "$ROOT/d2"
}

run_scale() {
	mount_target lsmfs
	line=$("$METABENCH" scale -n "$scale_files" -D "$scale_dirs" "$ROOT" 2>&1) ||
		failed "scale: $line"
	hwm=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$mnt_pid/status")
	umount_target
	rm -rf "$work/lsmfs-data"
	# shellcheck disable=SC2086 # the line is a list of words
	set -- $line
	[ "${1:-}" = scale ] || return
	record scale-rate "$4" files/s
	record scale-first10 "$5" files/s
	record scale-last10 "$6" files/s
	record scale-late-ratio "$(awk -v a="$6" -v b="$5" 'BEGIN { printf "%.3f", a / b }')" '×'
	record scale-rss "$hwm" MiB
}

has() { case " $groups " in *" $1 "*) return 0 ;; esac; return 1; }

# ---- 2. the runs ----
mkdir -p "$work/src"
if has tree; then
	say "tarball of $tree_src"
	tar -c -f "$work/src/tree.tar" -C "$(dirname "$tree_src")" "$(basename "$tree_src")" ||
		die "cannot tar $tree_src"
fi
if has dedup && [ "$(stat -c %s "$work/src/rand.bin" 2>/dev/null)" != $((data_mb * 1048576)) ]; then
	say "source file for dedup: $data_mb MiB of random bytes"
	head -c $((data_mb * 1048576)) /dev/urandom >"$work/src/rand.bin" || die "cannot write $work/src"
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$raw"
for rep in $(seq 1 "$reps"); do
	for target in $targets; do
		say "rep $rep/$reps: $target (load $(cut -d' ' -f1-3 /proc/loadavg))"
		mount_target "$target"
		# dedup first: on a fresh filesystem, so that what other
		# phases left for compaction to free cannot offset its growth.
		for g in dedup meta tree data reclaim; do
			if has $g; then
				say "  $g"
				"run_$g"
			fi
		done
		umount_target
		rm -rf "${work:?}/$target" "$work/pt-backing" "$work/lsmfs-data"
	done
	if has scale && [ "${targets#*lsmfs}" != "$targets" ]; then
		target=lsmfs
		say "rep $rep/$reps: lsmfs scale, $scale_files files in $scale_dirs dirs"
		run_scale
	fi
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
minutes=$(awk -v s="$(($(date +%s) - started))" 'BEGIN { printf "%.1f", s / 60 }')
say "measured in $minutes minutes"

# ---- 3. the report ----
cache=$(echo "$lsmfs_opts" | sed -n 's/.*cache_size=\([^,]*\).*/\1/p')
case ",$lsmfs_opts," in
*,writeback=off,*) wb_text="no writeback cache" ;;
*) wb_text="writeback cache" ;;
esac
cache_mib=64
case $cache in
'') ;;
*[Gg]) cache_mib=$((${cache%?} * 1024)) ;;
*[Mm]) cache_mib=${cache%?} ;;
*[Kk]) cache_mib=$((${cache%?} / 1024)) ;;
*) cache_mib=$((cache / 1048576)) ;;
esac
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
{
	echo "Command: \`$cmd\` (FSBENCH_SIZE=$size, $reps repetitions), $(date -u '+%Y-%m-%d %H:%M UTC'), source commit $rev; $minutes minutes in all."
	echo
	echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, $mem RAM; $(uname -sr);" \
		"work dir $work on $mnt_src (stat -f: $fs_type); load average $load_start at the start, $load_end at the end (other work was running)."
	echo
	echo "Targets: **ext4** a plain directory on that filesystem; **passthrough_ll** libfuse $(pkg-config --modversion fuse3)'s example," \
		"compiled with -O2, run as \`passthrough_ll -f -o source=DIR MNT\` (its defaults: cache=auto, 1 s entry and attribute timeouts, no writeback cache, multi-threaded);" \
		"**lsmfs** built with -O2 -g, \`lsmfs -f DATA MNT${lsmfs_opts:+ -o $lsmfs_opts}\` (block cache $cache_mib MiB, $wb_text, 1-day timeouts) on a fresh data dir."
	echo
	echo "Sizes: $meta_n files per metadata run (the tree: $((meta_n - 155)) files in 125 leaf dirs of a 5×5×5 tree), tree $tree_src ($(find "$tree_src" | wc -l) entries, $(du -sh "$tree_src" | cut -f1))," \
		"$data_mb MiB data file, fio random and fsync runs of $fio_time, scale run $scale_files files in $scale_dirs dirs."
	echo
} >"$out/header.md"
FSBENCH_RSS_LIMIT=$((cache_mib + 64)) sh "$srcdir/bench/fs/fsbench-report.sh" "$raw" "$out/fsbench" ||
	die "the report failed"
{
	cat "$out/header.md"
	cat "$out/fsbench.table.md"
} >"$out/fsbench.md"
gnuplot -e "datafile='$out/fsbench.dat'; outfile='$out/fsbench.png'" "$srcdir/bench/fs/fsbench.gp" ||
	{
		say "gnuplot failed"
		status=1
	}
say "wrote $out/fsbench.md, $out/fsbench.dat, $out/fsbench.png, $raw"
say "total time $(($(date +%s) - started)) s"
rm -rf "$work/src" "$work/cmd.out" "$work/fio.out" "$work/fio.err"
exit $status
