#!/bin/sh
# fsbench-report.sh RAW.tsv PREFIX — the report step of run-fsbench.sh.
#
# RAW has one line per measurement: rep, target (ext4, pt, lsmfs), workload,
# value, unit. Writes
#   PREFIX.table.md  per workload: each target's median with its min–max
#                    over the repetitions, lsmfs's ratio to ext4 and to
#                    passthrough_ll (oriented so that > 1 means lsmfs is
#                    better: a rate divided by a rate, a time into a time),
#                    the target the issue sets and whether it is met;
#   PREFIX.dat       the two ratios per workload (but reclaim), by workload
#                    id, for bench/fs/fsbench.gp.
# FSBENCH_RSS_LIMIT (MiB) is the daemon's RSS target (caches + 64 MiB).
set -eu
raw=$1
prefix=$2
[ -r "$raw" ] || {
	echo "fsbench-report: cannot read $raw" >&2
	exit 1
}
awk -F'\t' -v md="$prefix.table.md" -v dat="$prefix.dat" -v rsslimit="${FSBENCH_RSS_LIMIT:-128}" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	if (n % 2)
		return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
function minmax(list,    a, n, i, lo, hi) {
	n = split(list, a, " ")
	lo = hi = a[1]
	for (i = 2; i <= n; i++) {
		if (a[i] + 0 < lo + 0) lo = a[i]
		if (a[i] + 0 > hi + 0) hi = a[i]
	}
	return n > 1 ? sprintf("%s–%s", fmt(lo), fmt(hi)) : ""
}
function fmt(v) {
	v += 0
	if (v >= 1000) return sprintf("%.0f", v)
	if (v >= 10) return sprintf("%.1f", v)
	return sprintf("%.3g", v)
}
function cell(t, w) {
	if (!((t, w) in vals)) return "–"
	m = minmax(vals[t, w])
	return fmt(median(vals[t, w])) (m != "" ? " (" m ")" : "")
}
# lsmfs against target t, > 1 when lsmfs is better.
function ratio(t, w,    a, b) {
	if (!((t, w) in vals) || !(("lsmfs", w) in vals)) return ""
	a = median(vals["lsmfs", w]); b = median(vals[t, w])
	if (lower[w]) { if (a + 0 == 0) return ""; return b / a }
	if (b + 0 == 0) return ""
	return a / b
}
function rfmt(r) { return r == "" ? "–" : sprintf("%.2f×", r) }
BEGIN {
	n = 0
	split("meta-flat-create meta-flat-stat-cold meta-flat-stat-warm meta-flat-lsl meta-flat-rename meta-flat-unlink " \
	      "meta-tree-create meta-tree-stat-cold meta-tree-stat-warm meta-tree-lsl meta-tree-rename meta-tree-unlink " \
	      "tree-cp tree-tarx tree-find tree-du tree-dusize tree-grep tree-rmrf " \
	      "data-seqwrite data-seqwrite-wamp data-seqread-cold data-randwrite data-randwrite-wamp " \
	      "data-randread-cold data-fsyncwrite data-fsync-flushes " \
	      "dedup-x reclaim-pct reclaim-secs scale-rate scale-first10 scale-last10 scale-late-ratio scale-rss", order, " ")
	label["meta-flat-create"] = "create, flat"; label["meta-flat-stat-cold"] = "stat cold, flat"
	label["meta-flat-stat-warm"] = "stat warm, flat"; label["meta-flat-lsl"] = "ls -l (readdir+stat) cold, flat"
	label["meta-flat-rename"] = "rename, flat"; label["meta-flat-unlink"] = "unlink, flat"
	label["meta-tree-create"] = "create, tree"; label["meta-tree-stat-cold"] = "stat cold, tree"
	label["meta-tree-stat-warm"] = "stat warm, tree"; label["meta-tree-lsl"] = "ls -l (readdir+stat) cold, tree"
	label["meta-tree-rename"] = "rename, tree"; label["meta-tree-unlink"] = "unlink, tree"
	label["tree-cp"] = "cp -a"; label["tree-tarx"] = "tar x"; label["tree-find"] = "find (cold)"
	label["tree-du"] = "du -s (cold)"; label["tree-grep"] = "grep -r (cold)"; label["tree-rmrf"] = "rm -rf (cold)"
	label["tree-dusize"] = "du -s of the tree: size"
	label["data-fsync-flushes"] = "… daemon fsync/fdatasync calls per fsync (strace)"
	label["data-seqwrite-wamp"] = "… daemon bytes written ÷ user bytes (idle after)"
	label["data-randwrite-wamp"] = "… daemon bytes written ÷ user bytes (idle after)"
	label["data-seqwrite"] = "sequential write 1M + fsync"; label["data-seqread-cold"] = "sequential read 1M, cold"
	label["data-randwrite"] = "4 KiB random write + end fsync"; label["data-randread-cold"] = "4 KiB random read, cold"
	label["data-fsyncwrite"] = "4 KiB write + fsync each"
	label["dedup-x"] = "same file written twice: disk used"; label["reclaim-pct"] = "space back after delete"
	label["reclaim-secs"] = "… after (poll ends at 95 %)"
	label["scale-rate"] = "scale: create rate, all"; label["scale-first10"] = "scale: first 10 %"
	label["scale-last10"] = "scale: last 10 %"; label["scale-late-ratio"] = "scale: last / first 10 %"
	label["scale-rss"] = "scale: daemon peak RSS (VmHWM)"
	# Lower is better for times, disk used, RSS.
	split("tree-cp tree-tarx tree-find tree-du tree-dusize tree-grep tree-rmrf dedup-x reclaim-secs scale-rss " \
	      "data-seqwrite-wamp data-randwrite-wamp data-fsync-flushes", lw, " ")
	for (i in lw) lower[lw[i]] = 1
	# The targets: vs pt / vs ext4 ratio thresholds, or an absolute bound on lsmfs.
	for (i = 1; i <= 12; i++) { goalvs[order[i]] = "pt"; goal[order[i]] = 2 }
	split("tree-cp tree-tarx tree-find tree-rmrf", tw, " ")
	for (i in tw) { goalvs[tw[i]] = "pt"; goal[tw[i]] = 1.5 }
	goalvs["data-seqwrite"] = "ext4"; goal["data-seqwrite"] = 0.8
	goalvs["data-seqread-cold"] = "ext4"; goal["data-seqread-cold"] = 0.6
	# A second threshold against passthrough_ll, met only with the first.
	goal_pt["data-seqread-cold"] = 1.5
	goalvs["data-randread-cold"] = "pt"; goal["data-randread-cold"] = 1.0
	goalvs["data-randwrite"] = "pt"; goal["data-randwrite"] = 1.0
	goalvs["data-fsyncwrite"] = "ext4"; goal["data-fsyncwrite"] = 1.0
	absmax["dedup-x"] = 1.05; absmin["reclaim-pct"] = 95; absmax["reclaim-secs"] = 2
	absmax["data-seqwrite-wamp"] = 1.2; absmax["data-randwrite-wamp"] = 3
	# The size du counts: within 10 % of what it counts on ext4, either way.
	band["tree-dusize"] = 0.1
	absmax["scale-rss"] = rsslimit; absmin["scale-late-ratio"] = 0.7
}
NF >= 5 {
	key = $2 SUBSEP $3
	vals[key] = (key in vals) ? vals[key] " " $4 : $4
	unit[$3] = $5
	seen[$3] = 1
}
END {
	print "| workload | unit | ext4 | passthrough_ll | lsmfs | lsmfs / ext4 | lsmfs / passthrough_ll | target | met |" > md
	print "|---|---|---:|---:|---:|---:|---:|---|---|" > md
	print "# workload ratio_vs_ext4 ratio_vs_passthrough_ll (lsmfs better when > 1)" > dat
	met = 0; missed = 0
	for (i = 1; order[i] != ""; i++) {
		w = order[i]
		if (!(w in seen)) continue
		re = ratio("ext4", w); rp = ratio("pt", w)
		tgt = ""; ok = ""
		if (w in band) {
			tgt = sprintf("within ±%g %% of ext4", band[w] * 100)
			if (re != "") ok = (re + 0 >= 1 / (1 + band[w]) && re + 0 <= 1 / (1 - band[w])) ? "yes" : sprintf("no (%.2f×)", re)
		} else if (w in goal) {
			tgt = sprintf("≥ %g× vs %s", goal[w], goalvs[w] == "pt" ? "passthrough_ll" : "ext4")
			r = goalvs[w] == "pt" ? rp : re
			if (r != "") ok = (r + 0 >= goal[w]) ? "yes" : sprintf("no (%.2f×)", r)
			if (w in goal_pt) {
				tgt = tgt sprintf(" and ≥ %g× vs passthrough_ll", goal_pt[w])
				if (ok == "yes" && rp != "" && rp + 0 < goal_pt[w])
					ok = sprintf("no (%.2f× vs passthrough_ll)", rp)
				else if (ok != "" && ok != "yes" && rp != "" && rp + 0 < goal_pt[w])
					ok = ok sprintf(", %.2f× vs passthrough_ll", rp)
			}
		} else if (w in absmax || w in absmin) {
			if (("lsmfs", w) in vals) v = median(vals["lsmfs", w])
			if (w in absmax) {
				tgt = sprintf("≤ %g %s", absmax[w], unit[w])
				if (("lsmfs", w) in vals) ok = (v + 0 <= absmax[w]) ? "yes" : "no"
			} else {
				tgt = sprintf("≥ %g %s", absmin[w], unit[w])
				if (("lsmfs", w) in vals) ok = (v + 0 >= absmin[w]) ? "yes" : "no"
			}
		}
		if (ok == "yes") met++
		else if (ok != "") missed++
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label[w], unit[w],
			cell("ext4", w), cell("pt", w), cell("lsmfs", w), rfmt(re), rfmt(rp),
			tgt == "" ? "–" : tgt, ok == "" ? "–" : ok > md
		# The chart leaves out reclaim: its ratios say little (every
		# target gives the space back; only how soon differs).
		if ((re != "" || rp != "") && w !~ /^reclaim/)
			printf "%s %s %s\n", w, re == "" ? "NaN" : re, rp == "" ? "NaN" : rp > dat
	}
	print "" > md
	printf "Medians over the repetitions, min–max in brackets. Ratios are of medians and read \"lsmfs is N× as good\": rates divided by rates, times and bytes divided into. %d targets met, %d missed.\n", met, missed > md
}
' "$raw"
