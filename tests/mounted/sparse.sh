#!/bin/sh
# Sparse files and sizes: truncate up and down, dd with seek, a 5 GiB
# sparse file (size, du, bytes past 4 GiB), fallocate, hole punching and
# zero ranges (the same commands on the host's filesystem beside the data
# dir for comparison), SEEK_DATA/SEEK_HOLE, cp of a sparse file
# (copy_file_range and seeks).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/mounted/lib.sh"

expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
size() { stat -c %s "$1"; }
kib() { du -k "$1" | cut -f1; }
# $3 bytes of file $1 from offset $2.
bytes() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=65536 status=none; }
# Whether those bytes are all zeros.
zeros_at() { bytes "$@" | cmp -s -n "$3" /dev/zero -; }

CHUNK=65536
step "mkfs (64 KiB chunks) and mount"
fresh_fs --chunk-size $CHUNK
mount_fs
cd "$MNT"

step "truncate up: size set, no space taken, reads as zeros"
truncate -s 10M t
expect_eq "$(size t)" 10485760 "size"
[ "$(kib t)" -le 64 ] || fail "a hole takes $(kib t) KiB"
cmp -n 10485760 /dev/zero t

step "truncate down then up: the cut-off bytes read as zeros"
head -c 200000 /dev/urandom >td
head -c 100 td >"$T/head"
truncate -s 100 td
truncate -s 200000 td
cmp -n 100 "$T/head" td
zeros_at td 100 199900 || fail "bytes after the truncation point are not zero"

step "dd with seek leaves a hole before the data"
head -c 4096 /dev/urandom >"$T/block"
dd if="$T/block" of=sd bs=4096 seek=1000 conv=notrunc status=none
expect_eq "$(size sd)" $((1001 * 4096)) "size"
zeros_at sd 0 4096000 || fail "hole not zero"
bytes sd 4096000 4096 | cmp "$T/block" -
[ "$(kib sd)" -le 128 ] || fail "sparse dd takes $(kib sd) KiB"

step "a 5 GiB sparse file: size, du, bytes written past 4 GiB"
truncate -s 5G big
printf 'past4G' | dd of=big bs=1 seek=$((4 * 1024 * 1024 * 1024 + 12345)) conv=notrunc status=none
printf 'end' | dd of=big bs=1 seek=$((5 * 1024 * 1024 * 1024 - 3)) conv=notrunc status=none
expect_eq "$(size big)" 5368709120 "size"
[ "$(kib big)" -le 256 ] || fail "5 GiB sparse file takes $(kib big) KiB"
expect_eq "$(bytes big $((4 * 1024 * 1024 * 1024 + 12345)) 6)" past4G "past 4 GiB"
expect_eq "$(tail -c 3 big)" end "last bytes"

step "SEEK_DATA and SEEK_HOLE find the data (at chunk granularity)"
expect_eq "$("$FSPROBE" seek sd data 0)" $((4096000 / CHUNK * CHUNK)) "first data"
expect_eq "$("$FSPROBE" seek big data 0)" $((4 * 1024 * 1024 * 1024)) "first data of big"
expect_eq "$("$FSPROBE" seek t hole 0)" 0 "a file of holes starts with one"
expect_eq "$("$FSPROBE" seek t data 0 || true)" ENXIO "no data at all"
expect_eq "$("$FSPROBE" seek t hole 20000000 || true)" ENXIO "past the end"

step "cp of the sparse file is sparse and equal; copy_file_range too"
cp big big2
expect_eq "$(size big2)" 5368709120 "size of the copy"
[ "$(kib big2)" -le 256 ] || fail "the copy takes $(kib big2) KiB"
expect_eq "$(bytes big2 $((4 * 1024 * 1024 * 1024 + 12345)) 6)" past4G "copied data"
head -c 1000000 /dev/urandom >src
expect_eq "$("$FSPROBE" copy src dst 1000000)" 1000000 "bytes copied"
cmp src dst

step "fallocate: allocate extends the size, keep-size does not, punch makes a hole"
fallocate -l 1M fa
expect_eq "$(size fa)" 1048576 "fallocate -l"
cmp -n 1048576 /dev/zero fa
fallocate -n -l 2M fa
expect_eq "$(size fa)" 1048576 "fallocate --keep-size"
head -c $((4 * CHUNK)) /dev/urandom >ph
cp ph "$T/ph"
fallocate -p -o $CHUNK -l $CHUNK ph
expect_eq "$(size ph)" $((4 * CHUNK)) "punch keeps the size"
zeros_at ph $CHUNK $CHUNK || fail "punched range not zero"
cmp -n $CHUNK "$T/ph" ph
expect_eq "$("$FSPROBE" seek ph hole 0)" $CHUNK "the punched chunk is a hole"

step "fallocate -z and -z -n zero ranges as on the host, growing the file or not"
# The host directory sits on the filesystem that holds the data dir
# (usually ext4); one without ZERO_RANGE (tmpfs) leaves lsmfs's own checks.
mkdir "$T/host"
: >"$T/host/probe"
HOST_ZERO=0
fallocate -z -l 1 "$T/host/probe" 2>/dev/null && HOST_ZERO=1
[ "$HOST_ZERO" = 1 ] || echo "$(stat -f -c %T "$T") has no ZERO_RANGE: not compared"
head -c $((4 * CHUNK + 1000)) /dev/urandom >"$T/zsrc"
for d in "$MNT" "$T/host"; do
	[ "$d" = "$MNT" ] || [ "$HOST_ZERO" = 1 ] || continue
	cp "$T/zsrc" "$d/z1"
	cp "$T/zsrc" "$d/z2"
	touch -d @1000000000 "$d/z1" "$d/z2"
	fallocate -z -o 100 -l 200 "$d/z1"                              # inside one chunk
	fallocate -z -n -o $((CHUNK - 10)) -l $((2 * CHUNK + 20)) "$d/z1" # chunks 1 and 2 whole
	fallocate -z -n -o $((4 * CHUNK + 900)) -l $((3 * CHUNK)) "$d/z1" # past EOF, same size
	fallocate -z -o $((4 * CHUNK)) -l $((2 * CHUNK + 5)) "$d/z2"      # past EOF: grows
	fallocate -z -o $((9 * CHUNK)) -l 10 "$d/z2"                      # beyond it: a hole between
done
expect_eq "$(size z1)" $((4 * CHUNK + 1000)) "-z -n keeps the size"
expect_eq "$(size z2)" $((9 * CHUNK + 10)) "-z grows the file to the range's end"
zeros_at z1 100 200 || fail "range inside a chunk not zero"
zeros_at z1 $((CHUNK - 10)) $((2 * CHUNK + 20)) || fail "range across chunks not zero"
zeros_at z1 $((4 * CHUNK + 900)) 100 || fail "range past EOF: the tail not zero"
cmp -n 100 "$T/zsrc" z1
# what lies between and after the ranges is untouched
bytes "$T/zsrc" 300 $((CHUNK - 310)) >"$T/zmid"
bytes z1 300 $((CHUNK - 310)) | cmp - "$T/zmid"
bytes "$T/zsrc" $((3 * CHUNK + 10)) $((CHUNK + 890)) >"$T/zend"
bytes z1 $((3 * CHUNK + 10)) $((CHUNK + 890)) | cmp - "$T/zend"
cmp -n $((4 * CHUNK)) "$T/zsrc" z2
zeros_at z2 $((4 * CHUNK)) $((5 * CHUNK + 10)) || fail "grown range not zero"
expect_eq "$("$FSPROBE" seek z1 hole 0)" $CHUNK "the zeroed whole chunks are holes"
expect_eq "$("$FSPROBE" seek z1 data $CHUNK)" $((3 * CHUNK)) "data after the holes"
[ "$(kib z1)" -le $((3 * CHUNK / 1024)) ] || fail "zeroed chunks still take space: $(kib z1) KiB"
for f in z1 z2; do
	[ "$(stat -c %Y $f)" != 1000000000 ] || fail "fallocate -z left the mtime of $f"
	[ "$HOST_ZERO" = 1 ] || continue
	expect_eq "$(size $f)" "$(size "$T/host/$f")" "size of $f against the host"
	cmp "$T/host/$f" $f
done
cp z1 "$T/z1"
cp z2 "$T/z2"

step "sizes and holes survive remount"
cd /
remount_fs
cd "$MNT"
cmp "$T/z1" z1
cmp "$T/z2" z2
expect_eq "$(size big)" 5368709120 "size"
expect_eq "$(tail -c 3 big)" end "last bytes"
zeros_at td 100 199900 || fail "truncated tail"
cmp -n $CHUNK "$T/ph" ph
rm big big2
cd /
umount_fs
