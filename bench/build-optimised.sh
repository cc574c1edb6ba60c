# shellcheck shell=sh
# build-optimised.sh — sourced by bench/run-bench.sh (make bench) and
# bench/fs/run-fsbench.sh (make fsbench): the one way both build the tree
# they measure.
#
# build_optimised SRCDIR BUILDDIR DIR TARGET...
#   Configures (once, and again when configure is newer) an optimised tree
#   (-O2 -g, no sanitizers) in BUILDDIR/DIR and makes TARGET... there: the
#   tree a benchmark is started from may be a sanitizer build, where the
#   figures would mean nothing. A source tree configured in place refuses a
#   second, out-of-tree configure, so the tree is then a clean copy of the
#   distribution (make distdir) in BUILDDIR/DIR/src. Sets opt_tree to the
#   top of the built tree. On a failure returns 1, having said what failed.
#   The caller defines say() (progress on stderr); MAKE names make.
build_optimised() {
	bo_src=$1
	bo_build=$2
	bo_dir=$2/$3
	shift 3
	bo_make=${MAKE:-make}
	if [ -f "$bo_src/config.status" ]; then
		say "source tree is configured in place: copying it with make distdir"
		rm -rf "$bo_dir/src"
		mkdir -p "$bo_dir" || return 1
		# shellcheck disable=SC2086 # MAKE may hold options
		(cd "$bo_build" && $bo_make distdir distdir="$bo_dir/src" >/dev/null) || {
			say "make distdir failed"
			return 1
		}
		opt_tree=$bo_dir/src
		bo_configure=$opt_tree/configure
	else
		opt_tree=$bo_dir
		bo_configure=$bo_src/configure
	fi
	mkdir -p "$opt_tree" || return 1
	# shellcheck disable=SC3013 # -nt: dash and bash have it
	if [ ! -f "$opt_tree/config.status" ] || [ "$bo_configure" -nt "$opt_tree/config.status" ]; then
		say "configuring the optimised tree in $opt_tree (CFLAGS=-O2 -g, no sanitizers)"
		(cd "$opt_tree" && "$bo_configure" -q CFLAGS='-O2 -g' CXXFLAGS='-O2 -g') || {
			say "configure failed"
			return 1
		}
	fi
	say "building $* in $opt_tree"
	# shellcheck disable=SC2086 # MAKE may hold options
	(cd "$opt_tree" && $bo_make -j2 "$@" >/dev/null) || {
		say "build failed"
		return 1
	}
}
