# idle-written.sh — sourced by bench/fs scripts that count a daemon's writes.
# idle_written PID prints the bytes process PID has had written so far
# (/proc/PID/io write_bytes: what its writes dirtied, whenever the kernel
# writes it back), once the figure has not grown for 2 s: the engine's
# flushes, merges and collection are done.
idle_written() {
	iw_last=-1 iw_same=0
	while [ "$iw_same" -lt 4 ]; do
		iw_now=$(awk '/^write_bytes/ { print $2 }' "/proc/$1/io")
		if [ "$iw_now" = "$iw_last" ]; then iw_same=$((iw_same + 1)); else iw_same=0; fi
		iw_last=$iw_now
		sleep 0.5
	done
	echo "$iw_now"
}
