# lsm-bench.gp — the chart of one lsm-bench run (bench/run-bench.sh calls it).
#   gnuplot -e "datafile='main.dat'; outfile='main.png'" lsm-bench.gp
# blob=1 adds the rocksdb-blob engine (runs with --blob-threshold).
# Top: ops/s per workload and engine, median with min–max bars, log scale.
# Bottom: liblsm's ratio to each peer (above 1: liblsm is faster), with the
# targets 1.0 (RocksDB) and 1.5 (LevelDB) drawn in.
if (!exists("datafile")) datafile = 'lsm-bench.dat'
if (!exists("outfile")) outfile = 'lsm-bench.png'
if (!exists("blob")) blob = 0
title = system(sprintf("head -n 1 '%s' | sed 's/^# //'", datafile))

set terminal pngcairo size 1400,900 font ",10"
set output outfile
set datafile missing "nan"
set style fill solid 0.85 border -1
set grid ytics
set key top right horizontal
set xtics rotate by -30 nomirror
set multiplot layout 2,1 title title

set style data histograms
set style histogram errorbars gap 1.5 lw 1
set logscale y
set ylabel "ops/s (log)"
set format y "%.0s%c"
if (blob) {
plot datafile using 3:4:5:xtic(2) title "liblsm" lc rgb "#1b9e77", \
     '' using 9:10:11 title "rocksdb" lc rgb "#d95f02", \
     '' using 14:15:16 title "rocksdb-blob" lc rgb "#e7298a"
} else {
plot datafile using 3:4:5:xtic(2) title "liblsm" lc rgb "#1b9e77", \
     '' using 6:7:8 title "leveldb" lc rgb "#7570b3", \
     '' using 9:10:11 title "rocksdb" lc rgb "#d95f02"
}

set style histogram clustered gap 1.5
set ylabel "liblsm ÷ peer, ops/s (log)"
set format y "%g"
set yrange [0.05:*]
set arrow 1 from graph 0, first 1.0 to graph 1, first 1.0 nohead lw 2 dt 2 lc rgb "#d95f02" front
set arrow 2 from graph 0, first 1.5 to graph 1, first 1.5 nohead lw 2 dt 2 lc rgb "#7570b3" front
if (blob) {
plot datafile using 13:xtic(2) title "liblsm ÷ rocksdb" lc rgb "#d95f02", \
     '' using 17 title "liblsm ÷ rocksdb-blob" lc rgb "#e7298a"
} else {
plot datafile using 12:xtic(2) title "liblsm ÷ leveldb (target 1.5)" lc rgb "#7570b3", \
     '' using 13 title "liblsm ÷ rocksdb (target 1.0)" lc rgb "#d95f02"
}
unset multiplot
