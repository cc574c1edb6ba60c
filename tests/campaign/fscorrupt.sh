#!/bin/sh
# Filesystem-level corruption campaign: damage one file of a populated data
# directory, then run fsck.lsmfs and the mounted daemon on it.
#
# Once: mkfs, and a tree that makes every kind of data-dir file exist and
# matter — files from empty to nine 64 KiB chunks (some sharing chunks, for
# reference counts; one sparse), nested directories, symbolic links, hard
# links, xattrs, modes and owners — built in three mounts: the first's keys
# compacted into a deeper table (lsmctl compact), the second's changes
# (overwrites, deletions, renames: newer versions over older keys) written
# to a level-0 table by the third mount's recovery, and the third mount's
# files (wal/, each fsync'd before the next) only in the write-ahead log.
# The same operations on the host's filesystem make the reference tree.
#
# Each case copies that data dir, picks a kind of file (WAL, table,
# MANIFEST, CURRENT, LOCK: in turn) and one file of that kind, and flips
# 1-8 bytes at a random offset, zeroes a run, truncates it or deletes it.
#   fsck.lsmfs -n  changes nothing; exits 0, or 4/8 naming the damaged
#                  file. Exit 0 means harmless: the mount below must then
#                  serve every entry exactly.
#   lsmfs -f       refuses (non-zero exit, a message naming the damaged
#                  file, nothing mounted, no file of the data dir changed),
#                  or mounts: then every entry of the reference is checked
#                  (fscorrupt_tool check: stat, listings, targets, bytes,
#                  xattrs) and must be exactly right or fail with EIO,
#                  never different; the unmount must end the daemon with
#                  status 0 (the make check build has ASan and UBSan).
# A log cut short is what a crash leaves too, and no reader can tell the
# two apart: when the damaged file is the log, wal/'s files may also be
# absent or cut short, as long as what is left is a prefix of the order in
# which they were made. fsck.lsmfs notes a torn tail when it sees one.
#
# LSMFS_CAMPAIGN_CYCLES (20; make stress 200) x 10 cases; the seed is
# printed, LSMFS_CAMPAIGN_SEED replays it. About 2 minutes on two busy
# cores with the sanitizers; the watchdog of lib.sh at 15.
: "${TEST_TIMEOUT:=900}"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/campaign/campaign.sh"

TOOL=$top_builddir/tests/fscorrupt_tool
FSCK=$top_builddir/mkfs/fsck.lsmfs
LSMCTL=$top_builddir/lsm/lsmctl
for prog in "$TOOL" "$FSCK" "$LSMCTL"; do
	[ -x "$prog" ] || fail "$prog is not built"
done
CASES=$((${LSMFS_CAMPAIGN_CYCLES:-20} * 10))
REF=$T/ref
PRISTINE=$T/pristine
ORDER=$T/order

# ---- random numbers from the seed (31-bit LCG; R gets the value) ----
RNG=$SEED
rand()
{
	RNG=$(((RNG * 1103515245 + 12345) % 2147483648))
	r1=$((RNG >> 7))
	RNG=$(((RNG * 1103515245 + 12345) % 2147483648))
	R=$((((r1 << 24) + (RNG >> 7)) % $1))
}

# gen FILE N SIZE [text]: the bytes of content N (the same for a seed).
gen()
{
	"$TOOL" gen "$((SEED * 1000 + $2))" "$3" ${4:+"$4"} >"$1"
}

# ---- the tree: each step on the reference and on the mount alike ----

# populate_base DIR: the first mount's tree.
populate_base()
{
	d=$1
	mkdir -p "$d/top" "$d/d1/d2/d3/d4" "$d/many" "$d/x"
	: >"$d/top/empty"
	gen "$d/top/tiny" 1 1
	gen "$d/top/small" 2 3000
	gen "$d/top/text" 3 50000 text
	gen "$d/top/onechunk" 4 65536
	gen "$d/top/twochunks" 5 140000
	gen "$d/top/big" 6 450000
	cp "$d/top/twochunks" "$d/top/dup1"
	cp "$d/top/twochunks" "$d/d1/dup2"
	# The first chunk of big, then bytes of its own: one shared chunk.
	head -c 65536 "$d/top/big" >"$d/top/prefix"
	gen "$T/gen.tmp" 7 70000
	cat "$T/gen.tmp" >>"$d/top/prefix"
	# Data, a hole of four chunks, data.
	gen "$d/top/sparse" 8 30000
	gen "$T/gen.tmp" 9 20000
	dd if="$T/gen.tmp" of="$d/top/sparse" bs=65536 seek=5 conv=notrunc status=none
	gen "$d/d1/d2/d3/d4/leaf" 10 777
	gen "$d/d1/d2/mid" 11 100000 text
	i=0
	while [ "$i" -lt 24 ]; do
		gen "$d/many/f$i" "$((100 + i))" "$((i * 37 % 500))"
		i=$((i + 1))
	done
	# Many small keys: the deletions of change() then hide too little
	# for the engine to compact its level-0 table away when idle.
	mkdir "$d/tiny"
	i=0
	while [ "$i" -lt 100 ]; do
		gen "$d/tiny/t$i" "$((300 + i))" "$((i * 7 % 200))" text
		i=$((i + 1))
	done
	ln "$d/top/small" "$d/d1/hl1"
	ln "$d/top/small" "$d/d1/d2/hl2"
	ln -s ../top/big "$d/d1/rel"
	ln -s /nonexistent/target "$d/top/dangling"
	ln -s d1/d2 "$d/dirlink"
	ln -s "$(printf '%0200d' 0)" "$d/top/longlink"
	setfattr -n user.small -v hello "$d/top/small"
	gen "$T/gen.tmp" 12 3000 text
	setfattr -n user.big -v "$(cat "$T/gen.tmp")" "$d/top/twochunks"
	setfattr -n user.dir -v 1 "$d/d1"
	chmod 600 "$d/top/text"
	chmod 751 "$d/d1/d2"
	chown 1234:5678 "$d/top/tiny"
	gen "$d/x/moved" 13 5000
	gen "$d/x/gone" 14 66000
}

# change DIR: the second mount's changes, newer versions over older keys.
change()
{
	d=$1
	gen "$d/top/onechunk" 20 1000
	gen "$T/gen.tmp" 21 90000
	cat "$T/gen.tmp" >>"$d/top/big"
	truncate -s 100000 "$d/top/twochunks"
	rm "$d/x/gone" "$d/many/f3" "$d/many/f7"
	mv "$d/x/moved" "$d/d1/d2/moved"
	mv "$d/x" "$d/d1/x2"
	setfattr -n user.small -v changed "$d/top/small"
	setfattr -n user.new -v 2 "$d/top/empty"
	chmod 640 "$d/top/dup1"
	cp "$d/top/dup1" "$d/many/dup3"
	gen "$d/many/late" 22 12345
	# Enough new keys that the deletions above are under a quarter of
	# the level-0 table's entries: it stays there, over the older one.
	mkdir "$d/new"
	i=0
	while [ "$i" -lt 40 ]; do
		gen "$d/new/n$i" "$((200 + i))" "$((100 + i * 53))"
		i=$((i + 1))
	done
}

# wal_tail DIR SYNC: the third mount's files, each fsync'd before the next
# (SYNC is the command), in the order written to $ORDER.
wal_tail()
{
	d=$1
	mkdir "$d/wal"
	$2 "$d/wal"
	echo wal >"$ORDER"
	k=30
	for spec in w1:0 w2:5000 w3:150000 w4:dup w5:700 ln:link; do
		name=${spec%%:*}
		what=${spec#*:}
		k=$((k + 1))
		case $what in
		dup) cat "$d/top/dup1" >"$d/wal/$name" ;;
		link) ln -s ../top/small "$d/wal/$name" ;;
		*) gen "$d/wal/$name" "$k" "$what" ;;
		esac
		[ "$what" = link ] || $2 "$d/wal/$name"
		$2 "$d/wal"
		echo "wal/$name" >>"$ORDER"
	done
}

nosync()
{
	:
}

# ---- cases ----

# Every file of the data dir with its checksum. An empty LOCK does not
# count: a read-only open (fsck -n, a mount's first look) makes one where
# it was deleted, to lock the directory at all.
dir_sums()
{
	(cd "$DATA" && find . ! -name . ! \( -name LOCK -empty \) -exec sha256sum {} + | sort)
}

# Starts the daemon on $DATA; MOUNTED=1 once mounted, or 0 and MOUNT_RC
# if it exited first.
try_mount()
{
	: >"$LOG"
	"$LSMFS" -f "$DATA" "$MNT" >>"$LOG" 2>&1 &
	DAEMON_PID=$!
	n=0
	until is_mounted "$MNT"; do
		if ! pid_alive "$DAEMON_PID"; then
			MOUNT_RC=0
			wait "$DAEMON_PID" || MOUNT_RC=$?
			DAEMON_PID=
			MOUNTED=0
			return 0
		fi
		n=$((n + 1))
		[ "$n" -le 400 ] || fail "lsmfs neither mounted nor exited within 20 s"
		sleep 0.05
	done
	MOUNTED=1
}

sanitizer_report()
{
	grep -E 'Sanitizer|runtime error:' "$1"
}

KINDS="log sst MANIFEST CURRENT LOCK"

# The kind of data-dir file $1 is.
kind_of()
{
	case $1 in
	*.log) echo log ;;
	*.sst) echo sst ;;
	MANIFEST-*) echo MANIFEST ;;
	CURRENT | LOCK) echo "$1" ;;
	*) echo other ;;
	esac
}

# The files of kind $1 in the pristine data dir.
files_of()
{
	for f in "$PRISTINE"/*; do
		f=${f##*/}
		[ "$(kind_of "$f")" != "$1" ] || echo "$f"
	done
}

# Damages $DATA/$1 at random; DAMAGE says how.
damage()
{
	f=$DATA/$1
	size=$(stat -c %s "$f")
	rand 100
	op=$R
	if [ "$op" -lt 20 ]; then
		rm "$f"
		DAMAGE="deleted"
		return
	fi
	if [ "$size" -eq 0 ] || [ "$op" -lt 60 ]; then
		rand 8
		n=$((R + 1))
		off=0
		if [ "$size" -gt 0 ]; then
			# A quarter of them near the end: footers, last records.
			rand 4
			if [ "$R" -eq 0 ] && [ "$size" -gt 64 ]; then
				rand 64
				off=$((size - 64 + R))
			else
				rand "$size"
				off=$R
			fi
		fi
		rand 1000000
		DAMAGE=$("$TOOL" damage "$f" flip "$off" "$n" "$R") || fail "damaging $f"
	elif [ "$op" -lt 80 ]; then
		rand "$size"
		off=$R
		rand 4096
		DAMAGE=$("$TOOL" damage "$f" zero "$off" "$((R + 1))") || fail "damaging $f"
		# Zeros over zeros (a block's trailer, a MANIFEST's end tags)
		# change nothing: flip a byte there instead.
		case $DAMAGE in
		*"no byte changed"*)
			rand 1000000
			DAMAGE=$("$TOOL" damage "$f" flip "$off" 1 "$R") || fail "damaging $f"
			;;
		esac
	else
		rand 3
		if [ "$R" -eq 0 ] && [ "$size" -gt 64 ]; then
			rand 64
			len=$((size - 1 - R))
		else
			rand "$size"
			len=$R
		fi
		truncate -s "$len" "$f"
		DAMAGE="truncated from $size to $len bytes"
	fi
}

step "populate: three mounts, the last one's files only in the WAL"
# shellcheck disable=SC2119 # mkfs.lsmfs's defaults
fresh_fs
populate_base "$REF"
mount_fs
populate_base "$MNT"
umount_fs
"$LSMCTL" "$DATA" compact >/dev/null || fail "lsmctl compact"
change "$REF"
mount_fs
change "$MNT"
umount_fs
wal_tail "$REF" nosync
mount_fs
wal_tail "$MNT" sync
umount_fs
rm -f "$T/gen.tmp"
ls -la "$DATA"
cp -a "$DATA" "$PRISTINE"
for kind in $KINDS; do
	[ -n "$(files_of "$kind")" ] || fail "the data dir has no file of kind $kind"
done
[ -z "$(files_of other)" ] || fail "files of no known kind: $(files_of other)"
# Two tables (newer versions over older ones) unless the engine compacted
# them into one after all: the campaign holds either way.
tables=$(files_of sst | wc -l)
[ "$tables" -ge 2 ] || echo "note: $tables table (compacted while the third mount idled)"
wal=$(files_of log | tail -n 1)
[ "$(stat -c %s "$PRISTINE/$wal")" -gt 65536 ] || fail "the WAL $wal holds too little"
echo "reference: $(find "$REF" | wc -l) entries, $(du -sh --apparent-size "$REF" | cut -f1)"

step "the pristine copy: fsck.lsmfs -n clean, every entry exact after a mount"
"$FSCK" -n "$DATA" || fail "fsck.lsmfs -n finds the pristine data dir damaged"
mount_fs
"$TOOL" check -o "$ORDER" "$MNT" "$REF" || fail "the pristine filesystem differs from the reference"

step "the checker tells a wrong reference: bytes, names, targets, xattrs, modes, order"
# Each a reference that differs from the tree in one way; the check must
# fail and say where. (With -t, wal/w2 longer in the reference reads as
# cut short while wal/w3 after it is whole: not what a cut log leaves.)
for bad in "top/big|byte 300000|WRONG top/big: byte 300000" \
	"top/extra|extra file|WRONG top: readdir does not list 'extra'" \
	"many/f5|removed|WRONG many: readdir lists 'f5'" \
	"d1/rel|retargeted|WRONG d1/rel: target" \
	"top/small|xattr|WRONG top/small: xattr user.small" \
	"top/dup1|chmod|WRONG top/dup1: mode" \
	"wal/w2|appended|WRONG wal/w3: there (ok), but wal/w2"; do
	path=${bad%%|*}
	rest=${bad#*|}
	how=${rest%%|*}
	want=${rest#*|}
	rm -rf "$T/bad"
	cp -a "$REF" "$T/bad"
	opt=-o
	case $how in
	"byte 300000") printf 'x' | dd of="$T/bad/$path" bs=1 seek=300000 conv=notrunc status=none ;;
	"extra file") echo extra >"$T/bad/$path" ;;
	removed) rm "$T/bad/$path" ;;
	retargeted) ln -sfn ../top/small "$T/bad/$path" ;;
	xattr) setfattr -n user.small -v other "$T/bad/$path" ;;
	chmod) chmod 604 "$T/bad/$path" ;;
	appended)
		echo more >>"$T/bad/$path"
		opt=-t
		;;
	esac
	rc=0
	"$TOOL" check "$opt" "$ORDER" "$MNT" "$T/bad" >"$T/check.out" 2>&1 || rc=$?
	cat "$T/check.out"
	[ "$rc" -eq 1 ] || fail "a reference with $path $how: check exited $rc, not 1"
	grep -qF "$want" "$T/check.out" || fail "a reference with $path $how: no '$want'"
done
rm -rf "$T/bad"
umount_fs

# A case's failure: said, counted, and the next case runs (the summary
# fails the test), so that one run shows every kind of problem.
case_fail()
{
	echo "FAIL: $what: $*" >&2
	echo "$what: $*" >>"$T/failures.txt"
	# The damaged data dir (the bytes differ from run to run with the
	# timestamps in them) and the reference, for the first few failures.
	if [ "$FAILED" -eq 0 ] && [ "$kept" -lt 5 ] && [ -d "$T/damaged" ]; then
		mkdir -p "$KEEP_DIR"
		[ -d "$KEEP_DIR/fscorrupt-ref" ] || cp -a "$REF" "$KEEP_DIR/fscorrupt-ref"
		cp "$ORDER" "$KEEP_DIR/fscorrupt-order"
		rm -rf "$KEEP_DIR/fscorrupt-case$c"
		cp -a "$T/damaged" "$KEEP_DIR/fscorrupt-case$c"
		echo "kept: $KEEP_DIR/fscorrupt-case$c" >&2
		kept=$((kept + 1))
	fi
	FAILED=1
}

# Unmounts after a failed check, whatever state the daemon is in.
case_unmount()
{
	fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -u -z "$MNT" 2>/dev/null || true
	if [ -n "$DAEMON_PID" ]; then
		wait_daemon || case_fail "lsmfs exited with status $? after unmount"
	fi
}

# outcome WHAT: the case's outcome, for the summary.
outcome()
{
	echo "$kind ${DAMAGE%% *} $1" >>"$T/outcomes.txt"
}

# run_case N: one damage case; sets FAILED on a failure.
run_case()
{
	FAILED=0
	k=$(((($1 - 1) % 5) + 1))
	kind=$(echo "$KINDS" | cut -d' ' -f"$k")
	files=$(files_of "$kind")
	rand "$(echo "$files" | wc -l)"
	file=$(echo "$files" | sed -n "$((R + 1))p")
	rm -rf "$DATA"
	cp -a "$PRISTINE" "$DATA"
	damage "$file"
	what="case $c: $kind $file: $DAMAGE"
	echo "== $what"
	before=$(dir_sums)
	rm -rf "$T/damaged"
	cp -a "$DATA" "$T/damaged"

	# fsck.lsmfs -n: changes nothing, names the file or finds it harmless.
	frc=0
	"$FSCK" -n "$DATA" >"$T/fsck.out" 2>&1 || frc=$?
	sed 's/^/  fsck: /' "$T/fsck.out" | head -n 8
	! sanitizer_report "$T/fsck.out" || case_fail "fsck.lsmfs has a sanitizer report"
	[ "$(dir_sums)" = "$before" ] || case_fail "fsck.lsmfs -n changed the data dir"
	case $frc in
	0) ;;
	4 | 8 | 12)
		grep -qF "$file" "$T/fsck.out" || case_fail "fsck.lsmfs (exit $frc) does not name $file"
		;;
	*) case_fail "fsck.lsmfs exited with $frc" ;;
	esac

	# The daemon: a clean refusal, or every entry exact or EIO.
	try_mount
	if [ "$MOUNTED" -eq 0 ]; then
		sed 's/^/  daemon: /' "$LOG"
		refused=$((refused + 1))
		outcome refused
		! sanitizer_report "$LOG" || case_fail "the refusing daemon has a sanitizer report"
		[ "$MOUNT_RC" -ne 0 ] || case_fail "lsmfs exited 0 without mounting"
		if ! grep -q '^lsmfs: ' "$LOG"; then
			case_fail "lsmfs refused without a message"
		elif ! grep -qF "$file" "$LOG"; then
			case_fail "lsmfs's refusal does not name $file: $(grep '^lsmfs: ' "$LOG" | head -n 1)"
		fi
		[ "$(dir_sums)" = "$before" ] || case_fail "the refused mount changed the data dir"
		[ "$frc" -ne 0 ] || case_fail "fsck.lsmfs found nothing, but the mount is refused"
		return 0
	fi
	mounted=$((mounted + 1))
	tail_opt=-o
	[ "$kind" != log ] || tail_opt=-t
	rc=0
	"$TOOL" check "$tail_opt" "$ORDER" "$MNT" "$REF" >"$T/check.out" 2>"$T/check.err" || rc=$?
	# The verdicts that are not ok (the first 12), and the count.
	if [ "$rc" -eq 0 ]; then
		sed '$d; s/^/  check: /' "$T/check.out" | head -n 12
	else
		grep -v '^eio ' "$T/check.out" | sed '$d; s/^/  check: /'
	fi
	tail -n 1 "$T/check.out" | sed 's/^/  check: /'
	if [ -s "$T/check.err" ]; then
		sed 's/^/  check (stderr): /' "$T/check.err"
		case_fail "fscorrupt_tool check failed (exit $rc)"
	elif [ "$rc" -ne 0 ]; then
		case_fail "the mounted filesystem serves something wrong (WRONG above)"
	fi
	case_unmount
	! sanitizer_report "$LOG" || case_fail "the daemon has a sanitizer report"
	# entries N: ok N, eio N, earlier N, wrong N
	read -r word _ _ n_ok _ n_eio _ n_earlier _ _ <<EOF
$(tail -n 1 "$T/check.out" | tr -d ',:')
EOF
	if [ "$word" != entries ]; then
		case_fail "fscorrupt_tool check gave no summary"
		return 0
	fi
	good=$((good + n_ok))
	eio=$((eio + n_eio))
	earlier=$((earlier + n_earlier))
	[ "$n_ok" -gt 0 ] || all_eio=$((all_eio + 1))
	if [ "$frc" -ne 0 ]; then
		if [ "$n_eio" -ne 0 ]; then
			outcome eio
		else
			outcome intact
		fi
		return 0
	fi
	if [ "$n_eio" -ne 0 ]; then
		case_fail "fsck.lsmfs found nothing, but $n_eio entries read as EIO"
	elif [ "$n_earlier" -ne 0 ]; then
		# Only a cut log can do this (check -t), and so can a crash.
		crashlike=$((crashlike + 1))
		outcome crash-like
		echo "  crash-like: the log lost its last records ($n_earlier entries earlier)"
		grep -q 'torn-wal\|crash cut short' "$T/fsck.out" && crash_noted=$((crash_noted + 1))
	else
		harmless=$((harmless + 1))
		outcome harmless
		echo "  harmless"
	fi
	return 0
}

step "$CASES damage cases"
harmless=0
crashlike=0
crash_noted=0
refused=0
mounted=0
good=0
eio=0
earlier=0
all_eio=0
failures=0
kept=0
rm -rf "$KEEP_DIR"/fscorrupt-*
c=1
while [ "$c" -le "$CASES" ]; do
	run_case "$c"
	failures=$((failures + FAILED))
	c=$((c + 1))
done

step "summary"
echo "cases: $CASES; refused: $refused; mounted: $mounted"
echo "entries over the mounted cases: $good ok, $eio EIO, $earlier earlier (cut log)"
echo "mounted cases where every entry was EIO: $all_eio"
echo "fsck.lsmfs exit 0: $harmless harmless, $crashlike like a crash's cut log ($crash_noted of them noted as a torn tail)"
# Per kind of file and of damage: how the cases ended. refused: the mount
# refused; eio: mounted, some entries EIO; intact: mounted, all exact, fsck
# reported the damage; harmless: fsck clean, all exact; crash-like: fsck
# clean (a torn tail noted or not), the log's last files missing.
echo "outcomes (kind damage outcome: cases):"
sort "$T/outcomes.txt" | uniq -c | awk '{ printf "  %-9s %-9s %-10s %4d\n", $2, $3, $4, $1 }'
if [ "$failures" -ne 0 ]; then
	echo "$failures failed cases:" >&2
	sed 's/^/  /' "$T/failures.txt" >&2
	fail "$failures of $CASES cases failed (seed $SEED)"
fi
