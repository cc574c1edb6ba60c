#!/bin/bash
# inode-memory.sh BUILDDIR N — the daemon's memory with N files the kernel
# remembers (docs/BENCHMARKS.md): a fresh mount, metabench creates N files
# in a tree (each stays looked up), then prints the daemon's VmRSS before
# and after, its RssAnon (its own memory: caches, inode entries) and
# RssFile (table pages it has mapped) after, and VmHWM (the peak of
# VmRSS). LSMFS_OPTS are added to the mount; MEMENV adds environment
# words to the daemon (MALLOC_ARENA_MAX=1, say). Root, /dev/fuse.
set -u
build=$(cd "$1" && pwd) || exit 2
n=$2
work=$(mktemp -d /tmp/inode-memory.XXXXXX)
mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null; sleep 1; rm -rf "$work"' EXIT
mkdir -p "$work/data" "$mnt"
"$build/mkfs/mkfs.lsmfs" "$work/data" >/dev/null || exit 1
# shellcheck disable=SC2086 # word lists
env ${MEMENV:-LSMFS_MEMENV=} "$build/fs/lsmfs" "$work/data" "$mnt" ${LSMFS_OPTS:-} || exit 1
pid=$(pgrep -n -f "lsmfs.*$work/data") || exit 1
kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }

before=$(kib VmRSS)
mkdir "$mnt/d"
"$build/bench/fs/metabench" create -n "$n" -t "$mnt/d" || exit 1
after=$(kib VmRSS)
echo "files $n rss_before_kib $before rss_after_kib $after anon_kib $(kib RssAnon)" \
	"file_kib $(kib RssFile) hwm_kib $(kib VmHWM)" \
	"bytes_per_file $(((after - before) * 1024 / n))"
