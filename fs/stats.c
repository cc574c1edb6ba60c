/*
 * stats.c — the engine's running figures as text, for the daemon's
 * statistics socket (fs/fuse/fuse_stats.c) and so for lsmfs-stat.
 */
#include "fs_impl.h"

#include <stdio.h>

int lsmfs_engine_stats(lsmfs *fs, char *buf, size_t len)
{
	lsm_stats s;
	int n;

	lsm_stats_get(fs->db, &s);
	n = snprintf(
		buf, len,
		"engine gets %llu\nengine puts %llu\nengine deletes %llu\n"
		"engine batches %llu\nengine wal_syncs %llu\n"
		"engine user_bytes_written %llu\nengine wal_bytes_written %llu\n"
		"engine flushes %llu\nengine flush_bytes_written %llu\n"
		"engine compactions %llu\nengine compaction_bytes_read %llu\n"
		"engine compaction_bytes_written %llu\n"
		"engine gc_runs %llu\nengine gc_bytes_read %llu\nengine gc_bytes_written %llu\n"
		"engine cache_hits %llu\nengine cache_misses %llu\n"
		"engine stall_slowdowns %llu\nengine stall_stops %llu\n"
		"engine stall_micros %llu\nengine memtable_bytes %llu\n"
		"engine table_bytes %llu\nengine value_file_bytes %llu\n"
		"engine value_live_bytes %llu\nengine background_error %d\n",
		(unsigned long long)s.gets, (unsigned long long)s.puts,
		(unsigned long long)s.deletes, (unsigned long long)s.batches,
		(unsigned long long)s.syncs, (unsigned long long)s.user_bytes_written,
		(unsigned long long)s.wal_bytes_written, (unsigned long long)s.flushes,
		(unsigned long long)s.flush_bytes_written, (unsigned long long)s.compactions,
		(unsigned long long)s.compaction_bytes_read,
		(unsigned long long)s.compaction_bytes_written, (unsigned long long)s.blob_gc_runs,
		(unsigned long long)s.blob_gc_bytes_read,
		(unsigned long long)s.blob_gc_bytes_written, (unsigned long long)s.block_cache_hits,
		(unsigned long long)s.block_cache_misses, (unsigned long long)s.stall_slowdowns,
		(unsigned long long)s.stall_stops, (unsigned long long)s.stall_micros,
		(unsigned long long)s.memtable_bytes, (unsigned long long)s.live_bytes,
		(unsigned long long)s.blob_file_bytes, (unsigned long long)s.blob_live_bytes,
		s.background_error);
	return n < 0 ? 0 : (size_t)n < len ? n : (int)len - 1;
}
