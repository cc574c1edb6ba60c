# script.sh — the shell session of the differential test, run in an empty
# directory on each filesystem (see difftest.sh). Every command is echoed,
# then its output and errors, then its exit status; nothing printed may
# depend on inode numbers, times or allocation sizes.
# With --listing it only prints the final state of the tree.

run()
{
	echo "\$ $*"
	out=$(sh -c "$*" 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out"
	echo "[exit $rc]"
}

# The same for a function of this script.
runf()
{
	echo "\$ $*"
	out=$("$@" 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out"
	echo "[exit $rc]"
}

# stat without inode numbers and times; directory sizes are the
# filesystem's own business.
st()
{
	for f in "$@"; do
		if [ -d "$f" ] && [ ! -L "$f" ]; then
			stat -c '%n: %A %h %F %U:%G' "$f"
		else
			stat -c '%n: %A %s %h %F %U:%G' "$f"
		fi
	done
}

# ls -la without times, "total" lines or directory sizes. Of the
# session's own directory, ".." is left out: it is not part of the session.
lsl()
{
	ls -la --time-style=+ "$@" | awk -v top="$([ "$1" = . ] && echo 1)" '
		/^total / { next }
		top && /^d/ && $NF == ".." { next }
		/^d/ { $5 = "-" }
		{ $1 = $1; print }'
}

listing()
{
	echo "--- final tree"
	find . | LC_ALL=C sort | while read -r f; do
		st "$f"
		[ -L "$f" ] && echo "  -> $(readlink "$f")"
		[ -f "$f" ] && [ ! -L "$f" ] && echo "  sha256 $(sha256sum <"$f" | cut -c1-16)"
		getfattr -d -m '^user\.' -h "$f" 2>/dev/null | grep '^user\.' | sed 's/^/  /'
	done
}

if [ "${1:-}" = "--listing" ]; then
	listing
	exit 0
fi

echo "--- creating"
run 'mkdir -p a/b/c'
run 'mkdir a'
run 'mkdir -p a'
run 'touch a/f1'
run 'echo hello > a/f1'
run 'cat a/f1'
run 'echo more >> a/f1'
run 'cat a/f1'
run 'wc -c a/f1'
run 'cat a/missing'
run 'mkdir a/f1/sub'
run 'touch a/missing/x'
run 'echo x > a/b'
run 'cat a'
run "stat -c '%A %s %h %F' a/f1"
run "stat -c '%A %h %F' a a/b a/b/c"

echo "--- names"
run "touch '$(printf 'n%.0s' $(seq 255))'"
run "touch '$(printf 'n%.0s' $(seq 256))'"
run "touch -- 'with space' 'with
newline' 'ünïcödé' '-dash' '.hidden' '*star' 'back\\slash'"
run 'ls -a'
run 'rm -- -dash'
run "rm '$(printf 'n%.0s' $(seq 255))'"
run "rm -- with* ü* .hidden '*star' back*"
run 'ls -a' 

echo "--- links"
run 'ln a/f1 a/b/hard'
run "stat -c '%A %s %h %F' a/f1 a/b/hard"
run 'ln a/f1 a/b/hard'
run 'ln a a/dirlink'
run 'ln -s ../f1 a/b/sym'
run 'readlink a/b/sym'
run 'cat a/b/sym'
run "stat -c '%A %s %h %F' a/b/sym"
run "stat -L -c '%A %s %h %F' a/b/sym"
run 'ln -s nowhere a/dangling'
run 'cat a/dangling'
run 'ln -s x a/dangling'
run 'ls -L a/dangling'
run 'ln -s a/b/c dirsym'
run 'ls dirsym'
run 'touch dirsym/through'
run 'ls a/b/c'
run 'rm dirsym/'
run 'rmdir dirsym'
run 'rm dirsym'

echo "--- moves"
run 'mv a/f1 a/b/c/moved'
run 'cat a/b/c/moved'
run "stat -c '%h' a/b/hard"
run 'mv a a/b/inside'
run 'mv a/b a/b/c/'
run 'mv a/b a/b'
run 'mv nothing here'
run 'mkdir -p m/x m/y/z'
run 'touch m/file'
run 'mv -T m/x m/y'
run 'mv -T m/file m/y'
run 'mv -T m/y m/file'
run 'mv m/file m/x'
run 'ls m m/x'
run 'mv m/x m/y/z/'
run "stat -c '%h' m m/y m/y/z"
run 'mv m/y/z/x/file m/renamed'
run 'mv m/renamed m/renamed'
runf lsl m

echo "--- removing"
run 'rmdir a/b'
run 'rm a/b'
run 'rm -r a/b/c'
run 'rmdir a/b'
run 'rmdir a/missing'
run 'rmdir a/b/hard'
run 'rm a/nothing'
run 'rm -f a/nothing'
run 'unlink a/b'
run 'rmdir .'
run 'rmdir ..'

echo "--- modes and owners"
run 'touch p'
run 'chmod 0 p && stat -c %A p'
run 'chmod 4755 p && stat -c %A p'
run 'chmod 2755 p && stat -c %A p'
run 'chmod 1777 p && stat -c %A p'
run 'chmod 7777 p && stat -c %A p'
run 'chown 1:2 p && stat -c "%A %u:%g" p'
run 'chmod 6755 p && chown 3:4 p && stat -c "%A %u:%g" p'
run 'mkdir sg && chmod 2775 sg && chown 5:6 sg && mkdir sg/sub && touch sg/f'
run "stat -c '%A %u:%g' sg sg/sub sg/f"
run 'umask 077 && touch masked && mkdir maskdir && stat -c %A masked maskdir'
run 'mknod fifo p && stat -c "%A %F" fifo'
run 'mknod cdev c 1 3 && stat -c "%A %F %t:%T" cdev'
run 'mknod bdev b 7 0 && stat -c "%A %F %t:%T" bdev'

echo "--- sizes and data"
run 'printf abc > s && truncate -s 10 s && od -c s'
run 'truncate -s 2 s && od -c s'
run 'truncate -s 1G s && stat -c %s s'
run 'truncate -s 0 s && stat -c %s s'
run 'dd if=/dev/zero of=s bs=1 seek=5000 count=1 status=none && stat -c %s s'
run 'printf XY | dd of=s bs=1 seek=4999 conv=notrunc status=none && od -An -c -j 4998 s'
run 'seq 1 100000 > big && wc -c big && sha256sum big | cut -c1-16'
run 'cp big big2 && cmp big big2 && echo same'
run 'cat big big >> big2 && wc -c big2'
run 'head -c 5 big2 && tail -c 7 big2'
run 'truncate -s -100 big2 && wc -c big2'

echo "--- extended attributes"
run 'setfattr -n user.one -v 1 s && getfattr -n user.one --only-values s'
run 'getfattr -n user.none s'
run 'setfattr -x user.none s'
run 'setfattr -n user.one -v 2 s && getfattr -d s'
run 'setfattr -n user.dir -v d m && getfattr -d m'
run 'getfattr -d -m - fifo'

echo "--- directories"
run 'mkdir -p many/dir'
run 'for i in $(seq 1 300); do touch many/dir/f$i; done; ls many/dir | wc -l'
run 'ls many/dir | LC_ALL=C sort | head -3'
run 'rm many/dir/f1?? && ls many/dir | wc -l'
run 'rmdir many/dir'
run 'rm -r many/dir && ls many'
run 'cp -r m mcopy && diff -r m mcopy && echo equal'
runf lsl .
runf lsl a
run 'find . -type f | LC_ALL=C sort'
run "find . -name '*' -links +1 -type f | LC_ALL=C sort"

listing
