#!/bin/sh
# Replays the fuzz corpus of every target (tests/fuzz/corpus/<target>/: seeds
# and every crasher found so far) through its replay program, built by make
# check from the same source as the libFuzzer target (mk/fuzz.am).
# Run by make check, with top_builddir and top_srcdir set; exits non-zero on
# the first input that crashes, trips a sanitizer or fails a check.
builddir="${top_builddir:-.}"
srcdir="${top_srcdir:-.}"
targets="${FUZZ_TARGETS:-wal table block edit manifest batch fskeys blob}"
passed=0
failed=0
for t in $targets; do
	prog="$builddir/tests/fuzz/replay_$t"
	corpus="$srcdir/tests/fuzz/corpus/$t"
	if [ ! -x "$prog" ]; then
		echo "$prog: not built"
		failed=$((failed + 1))
		continue
	fi
	if [ ! -d "$corpus" ]; then
		echo "$corpus: no corpus"
		failed=$((failed + 1))
		continue
	fi
	n=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' | wc -l)
	start=$(date +%s)
	if "$prog" "$corpus" >"$builddir/tests/fuzz/replay_$t.out" 2>&1; then
		echo "replay $t: $n inputs, $(($(date +%s) - start)) s"
		passed=$((passed + 1))
	else
		echo "replay $t: FAILED on:"
		tail -n 40 "$builddir/tests/fuzz/replay_$t.out"
		failed=$((failed + 1))
	fi
done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
