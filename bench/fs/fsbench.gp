# fsbench.gp — the chart of one fsbench run (bench/fs/run-fsbench.sh calls it).
#   gnuplot -e "datafile='fsbench.dat'; outfile='fsbench.png'" fsbench.gp
# lsmfs's ratio to ext4 and to passthrough_ll per workload id (medians; above
# 1: lsmfs is better), log scale, with 1 drawn in.
if (!exists("datafile")) datafile = 'fsbench.dat'
if (!exists("outfile")) outfile = 'fsbench.png'

set terminal pngcairo size 1100,600 font ",9"
set rmargin 4
set bmargin 9
set output outfile
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.85 border -1
set grid ytics
set key top right horizontal
set xtics rotate by -45 nomirror noenhanced
set logscale y
set format y "%g"
set ylabel "lsmfs ÷ other (log; > 1: lsmfs better)"
set title "lsmfs against ext4 and passthrough_ll (medians)" noenhanced
set arrow 1 from graph 0, first 1.0 to graph 1, first 1.0 nohead lw 2 dt 2 lc rgb "#444444" front
plot datafile using 2:xtic(1) title "lsmfs ÷ ext4" lc rgb "#1b9e77", \
     '' using 3 title "lsmfs ÷ passthrough\\_ll" lc rgb "#d95f02"
