/*
 * adapter_rocksdb.c — lsm-bench's adapter for RocksDB's C API (rocksdb/c.h).
 *
 * RocksDB compresses with Snappy unless told otherwise, so compression is
 * always set explicitly: none, or LZ4 for the fast-compression run. The
 * bloom filter is the full (whole-table) filter. max_open_files is bounded
 * at 1000 like the other engines (RocksDB's default keeps every table open).
 * Everything else is RocksDB's default (64 MiB files, 256 MiB L1, two
 * background jobs, two write buffers).
 *
 * Two engines come from this file: rocksdb, as above, and rocksdb-blob, the
 * same with RocksDB's integrated blob files on (enable_blob_files, values
 * of at least min_blob_size = bench_opts.blob_threshold bytes go to blob
 * files) and their garbage collection on (enable_blob_garbage_collection,
 * with RocksDB's default age cutoff 0.25 and 256 MiB blob files).
 */
#include <config.h>

#include "adapter.h"

#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>

/* RocksDB's BottommostLevelCompaction::kForceOptimized (rocksdb/options.h). */
#define BOTTOMMOST_FORCE_OPTIMIZED 3

struct bench_db {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_block_based_table_options_t *topts;
	rocksdb_cache_t *cache;
	rocksdb_readoptions_t *ro;
	rocksdb_writeoptions_t *wo, *wo_sync;
};

struct bench_it {
	rocksdb_iterator_t *it;
};

/* Reports and frees a RocksDB error string; returns -1 if there was one. */
static int check(const char *what, char *err)
{
	if (!err)
		return 0;
	fprintf(stderr, "rocksdb: %s: %s\n", what, err);
	rocksdb_free(err);
	return -1;
}

static const char *rocksdb_compression_name(int compress)
{
	return compress ? "lz4" : "none";
}

static void free_handles(bench_db *b)
{
	if (b->wo_sync)
		rocksdb_writeoptions_destroy(b->wo_sync);
	if (b->wo)
		rocksdb_writeoptions_destroy(b->wo);
	if (b->ro)
		rocksdb_readoptions_destroy(b->ro);
	if (b->opts)
		rocksdb_options_destroy(b->opts);
	/* The table options own the filter policy. */
	if (b->topts)
		rocksdb_block_based_options_destroy(b->topts);
	if (b->cache)
		rocksdb_cache_destroy(b->cache);
	free(b);
}

static int open_db(const char *dir, const struct bench_opts *o, int blob, bench_db **dbp)
{
	bench_db *b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "rocksdb: open: out of memory\n");
		return -1;
	}
	b->cache = rocksdb_cache_create_lru(o->cache_bytes);
	b->topts = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(b->topts, b->cache);
	if (o->bloom_bits)
		rocksdb_block_based_options_set_filter_policy(
			b->topts, rocksdb_filterpolicy_create_bloom_full(o->bloom_bits));

	b->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(b->opts, 1);
	rocksdb_options_set_block_based_table_factory(b->opts, b->topts);
	rocksdb_options_set_write_buffer_size(b->opts, o->memtable_bytes);
	rocksdb_options_set_max_open_files(b->opts, 1000);
	rocksdb_options_set_compression(b->opts, o->compress ? rocksdb_lz4_compression
							     : rocksdb_no_compression);
	if (blob) {
		rocksdb_options_set_enable_blob_files(b->opts, 1);
		rocksdb_options_set_min_blob_size(b->opts, o->blob_threshold);
		rocksdb_options_set_enable_blob_gc(b->opts, 1);
		rocksdb_options_set_blob_compression_type(
			b->opts, o->compress ? rocksdb_lz4_compression : rocksdb_no_compression);
	}

	b->ro = rocksdb_readoptions_create();
	b->wo = rocksdb_writeoptions_create();
	b->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(b->wo_sync, 1);

	char *err = NULL;
	b->db = rocksdb_open(b->opts, dir, &err);
	if (check("open", err)) {
		free_handles(b);
		return -1;
	}
	*dbp = b;
	return 0;
}

static int rocksdb_adapter_open(const char *dir, const struct bench_opts *o, bench_db **dbp)
{
	return open_db(dir, o, 0, dbp);
}

static int rocksdb_blob_adapter_open(const char *dir, const struct bench_opts *o, bench_db **dbp)
{
	return open_db(dir, o, 1, dbp);
}

static int rocksdb_adapter_close(bench_db *b)
{
	rocksdb_close(b->db);
	free_handles(b);
	return 0;
}

static int rocksdb_adapter_put(bench_db *b, const char *key, size_t klen, const char *val,
			       size_t vlen, int sync)
{
	char *err = NULL;
	rocksdb_put(b->db, sync ? b->wo_sync : b->wo, key, klen, val, vlen, &err);
	return check("put", err);
}

static int rocksdb_adapter_del(bench_db *b, const char *key, size_t klen, int sync)
{
	char *err = NULL;
	rocksdb_delete(b->db, sync ? b->wo_sync : b->wo, key, klen, &err);
	return check("delete", err);
}

static int rocksdb_adapter_get(bench_db *b, const char *key, size_t klen, size_t *vlen)
{
	char *err = NULL;
	char *val = rocksdb_get(b->db, b->ro, key, klen, vlen, &err);
	if (check("get", err))
		return -1;
	if (!val)
		return 0;
	rocksdb_free(val);
	return 1;
}

static int rocksdb_adapter_compact(bench_db *b)
{
	/*
	 * CompactRange flushes the memtable first. Forcing the bottommost
	 * level makes it drop every overwritten value and tombstone, as the
	 * other engines' full compaction does.
	 */
	rocksdb_compactoptions_t *co = rocksdb_compactoptions_create();
	rocksdb_compactoptions_set_bottommost_level_compaction(co, BOTTOMMOST_FORCE_OPTIMIZED);
	rocksdb_compact_range_opt(b->db, co, NULL, 0, NULL, 0);
	rocksdb_compactoptions_destroy(co);
	return 0;
}

static int rocksdb_adapter_flush(bench_db *b)
{
	char *err = NULL;
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(fo, 1);
	rocksdb_flush(b->db, fo, &err);
	rocksdb_flushoptions_destroy(fo);
	return check("flush", err);
}

static int rocksdb_adapter_busy(bench_db *b, uint64_t *progress)
{
	static const char *const pending[] = {
		"rocksdb.num-running-compactions",
		"rocksdb.num-running-flushes",
		"rocksdb.compaction-pending",
		"rocksdb.mem-table-flush-pending",
	};
	uint64_t v = 0;
	int busy = 0;
	for (size_t i = 0; i < sizeof(pending) / sizeof(pending[0]); i++) {
		if (rocksdb_property_int(b->db, pending[i], &v)) {
			fprintf(stderr, "rocksdb: property %s: not available\n", pending[i]);
			return -1;
		}
		busy |= v > 0;
	}
	/* Tables' and blob files' bytes move as compactions and blob GC finish. */
	*progress = 0;
	if (!rocksdb_property_int(b->db, "rocksdb.total-sst-files-size", &v))
		*progress += v;
	if (!rocksdb_property_int(b->db, "rocksdb.total-blob-file-size", &v))
		*progress += v;
	return busy;
}

static bench_it *rocksdb_adapter_it_new(bench_db *b)
{
	bench_it *i = malloc(sizeof(*i));
	if (!i) {
		fprintf(stderr, "rocksdb: iterator: out of memory\n");
		return NULL;
	}
	i->it = rocksdb_create_iterator(b->db, b->ro);
	return i;
}

static void rocksdb_adapter_it_free(bench_it *i)
{
	rocksdb_iter_destroy(i->it);
	free(i);
}

static void rocksdb_adapter_it_first(bench_it *i)
{
	rocksdb_iter_seek_to_first(i->it);
}

static void rocksdb_adapter_it_last(bench_it *i)
{
	rocksdb_iter_seek_to_last(i->it);
}

static void rocksdb_adapter_it_seek(bench_it *i, const char *key, size_t klen)
{
	rocksdb_iter_seek(i->it, key, klen);
}

static void rocksdb_adapter_it_next(bench_it *i)
{
	rocksdb_iter_next(i->it);
}

static void rocksdb_adapter_it_prev(bench_it *i)
{
	rocksdb_iter_prev(i->it);
}

static int rocksdb_adapter_it_valid(bench_it *i)
{
	return rocksdb_iter_valid(i->it);
}

static const char *rocksdb_adapter_it_key(bench_it *i, size_t *klen)
{
	return rocksdb_iter_key(i->it, klen);
}

static const char *rocksdb_adapter_it_value(bench_it *i, size_t *vlen)
{
	return rocksdb_iter_value(i->it, vlen);
}

static int rocksdb_adapter_it_status(bench_it *i)
{
	char *err = NULL;
	rocksdb_iter_get_error(i->it, &err);
	return check("iterator", err);
}

/* The two RocksDB engines differ only in their options, that is in open. */
#define ROCKSDB_ENGINE(NAME, OPEN)                                                            \
	{                                                                                     \
		.name = NAME, .open = OPEN, .compression_name = rocksdb_compression_name,     \
		.close = rocksdb_adapter_close, .put = rocksdb_adapter_put,                   \
		.del = rocksdb_adapter_del, .get = rocksdb_adapter_get,                       \
		.compact = rocksdb_adapter_compact, .flush = rocksdb_adapter_flush,           \
		.busy = rocksdb_adapter_busy, .it_new = rocksdb_adapter_it_new,               \
		.it_free = rocksdb_adapter_it_free, .it_first = rocksdb_adapter_it_first,     \
		.it_last = rocksdb_adapter_it_last, .it_seek = rocksdb_adapter_it_seek,       \
		.it_next = rocksdb_adapter_it_next, .it_prev = rocksdb_adapter_it_prev,       \
		.it_valid = rocksdb_adapter_it_valid, .it_key = rocksdb_adapter_it_key,       \
		.it_value = rocksdb_adapter_it_value, .it_status = rocksdb_adapter_it_status, \
	}

const struct bench_engine bench_engine_rocksdb = ROCKSDB_ENGINE("rocksdb", rocksdb_adapter_open);
const struct bench_engine bench_engine_rocksdb_blob =
	ROCKSDB_ENGINE("rocksdb-blob", rocksdb_blob_adapter_open);
