/*
 * adapter_leveldb.c — lsm-bench's adapter for LevelDB's C API (leveldb/c.h).
 *
 * LevelDB offers one codec, Snappy, so its "fast compression" run uses
 * Snappy where the other engines use LZ4. Options not set here are
 * LevelDB's defaults (4 KiB blocks, 2 MiB files, 10 MiB L1, 1000 open files).
 */
#include <config.h>

#include "adapter.h"

#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>

struct bench_db {
	leveldb_t *db;
	leveldb_options_t *opts;
	leveldb_cache_t *cache;
	leveldb_filterpolicy_t *filter;
	leveldb_readoptions_t *ro;
	leveldb_writeoptions_t *wo, *wo_sync;
};

struct bench_it {
	leveldb_iterator_t *it;
};

/* Reports and frees a LevelDB error string; returns -1 if there was one. */
static int check(const char *what, char *err)
{
	if (!err)
		return 0;
	fprintf(stderr, "leveldb: %s: %s\n", what, err);
	leveldb_free(err);
	return -1;
}

static const char *leveldb_compression_name(int compress)
{
	return compress ? "snappy" : "none";
}

static void free_handles(bench_db *b)
{
	if (b->wo_sync)
		leveldb_writeoptions_destroy(b->wo_sync);
	if (b->wo)
		leveldb_writeoptions_destroy(b->wo);
	if (b->ro)
		leveldb_readoptions_destroy(b->ro);
	if (b->opts)
		leveldb_options_destroy(b->opts);
	if (b->filter)
		leveldb_filterpolicy_destroy(b->filter);
	if (b->cache)
		leveldb_cache_destroy(b->cache);
	free(b);
}

static int leveldb_adapter_open(const char *dir, const struct bench_opts *o, bench_db **dbp)
{
	bench_db *b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "leveldb: open: out of memory\n");
		return -1;
	}
	b->opts = leveldb_options_create();
	b->cache = leveldb_cache_create_lru(o->cache_bytes);
	if (o->bloom_bits)
		b->filter = leveldb_filterpolicy_create_bloom(o->bloom_bits);
	leveldb_options_set_create_if_missing(b->opts, 1);
	leveldb_options_set_cache(b->opts, b->cache);
	leveldb_options_set_write_buffer_size(b->opts, o->memtable_bytes);
	if (b->filter)
		leveldb_options_set_filter_policy(b->opts, b->filter);
	leveldb_options_set_compression(b->opts, o->compress ? leveldb_snappy_compression
							     : leveldb_no_compression);
	b->ro = leveldb_readoptions_create();
	b->wo = leveldb_writeoptions_create();
	b->wo_sync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(b->wo_sync, 1);

	char *err = NULL;
	b->db = leveldb_open(b->opts, dir, &err);
	if (check("open", err)) {
		free_handles(b);
		return -1;
	}
	*dbp = b;
	return 0;
}

static int leveldb_adapter_close(bench_db *b)
{
	leveldb_close(b->db);
	free_handles(b);
	return 0;
}

static int leveldb_adapter_put(bench_db *b, const char *key, size_t klen, const char *val,
			       size_t vlen, int sync)
{
	char *err = NULL;
	leveldb_put(b->db, sync ? b->wo_sync : b->wo, key, klen, val, vlen, &err);
	return check("put", err);
}

static int leveldb_adapter_del(bench_db *b, const char *key, size_t klen, int sync)
{
	char *err = NULL;
	leveldb_delete(b->db, sync ? b->wo_sync : b->wo, key, klen, &err);
	return check("delete", err);
}

static int leveldb_adapter_get(bench_db *b, const char *key, size_t klen, size_t *vlen)
{
	char *err = NULL;
	char *val = leveldb_get(b->db, b->ro, key, klen, vlen, &err);
	if (check("get", err))
		return -1;
	if (!val)
		return 0;
	leveldb_free(val);
	return 1;
}

static int leveldb_adapter_compact(bench_db *b)
{
	/* Flushes the memtable, then compacts every level down to the deepest. */
	leveldb_compact_range(b->db, NULL, 0, NULL, 0);
	return 0;
}

static int leveldb_adapter_flush(bench_db *b)
{
	/*
	 * LevelDB's API has no flush of its own; the memtable stays in the
	 * log until it fills, so there is nothing to wait for here.
	 */
	(void)b;
	return 0;
}

static int leveldb_adapter_busy(bench_db *b, uint64_t *progress)
{
	/*
	 * LevelDB says nothing of pending work; its per-level statistics
	 * change when a compaction ends, so their hash is the progress.
	 */
	char *s = leveldb_property_value(b->db, "leveldb.stats");
	uint64_t h = 1469598103934665603ull;
	for (const char *p = s; p && *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	leveldb_free(s);
	*progress = h;
	return 0;
}

static bench_it *leveldb_adapter_it_new(bench_db *b)
{
	bench_it *i = malloc(sizeof(*i));
	if (!i) {
		fprintf(stderr, "leveldb: iterator: out of memory\n");
		return NULL;
	}
	i->it = leveldb_create_iterator(b->db, b->ro);
	return i;
}

static void leveldb_adapter_it_free(bench_it *i)
{
	leveldb_iter_destroy(i->it);
	free(i);
}

static void leveldb_adapter_it_first(bench_it *i)
{
	leveldb_iter_seek_to_first(i->it);
}

static void leveldb_adapter_it_last(bench_it *i)
{
	leveldb_iter_seek_to_last(i->it);
}

static void leveldb_adapter_it_seek(bench_it *i, const char *key, size_t klen)
{
	leveldb_iter_seek(i->it, key, klen);
}

static void leveldb_adapter_it_next(bench_it *i)
{
	leveldb_iter_next(i->it);
}

static void leveldb_adapter_it_prev(bench_it *i)
{
	leveldb_iter_prev(i->it);
}

static int leveldb_adapter_it_valid(bench_it *i)
{
	return leveldb_iter_valid(i->it);
}

static const char *leveldb_adapter_it_key(bench_it *i, size_t *klen)
{
	return leveldb_iter_key(i->it, klen);
}

static const char *leveldb_adapter_it_value(bench_it *i, size_t *vlen)
{
	return leveldb_iter_value(i->it, vlen);
}

static int leveldb_adapter_it_status(bench_it *i)
{
	char *err = NULL;
	leveldb_iter_get_error(i->it, &err);
	return check("iterator", err);
}

const struct bench_engine bench_engine_leveldb = {
	.name = "leveldb",
	.compression_name = leveldb_compression_name,
	.open = leveldb_adapter_open,
	.close = leveldb_adapter_close,
	.put = leveldb_adapter_put,
	.del = leveldb_adapter_del,
	.get = leveldb_adapter_get,
	.compact = leveldb_adapter_compact,
	.flush = leveldb_adapter_flush,
	.busy = leveldb_adapter_busy,
	.it_new = leveldb_adapter_it_new,
	.it_free = leveldb_adapter_it_free,
	.it_first = leveldb_adapter_it_first,
	.it_last = leveldb_adapter_it_last,
	.it_seek = leveldb_adapter_it_seek,
	.it_next = leveldb_adapter_it_next,
	.it_prev = leveldb_adapter_it_prev,
	.it_valid = leveldb_adapter_it_valid,
	.it_key = leveldb_adapter_it_key,
	.it_value = leveldb_adapter_it_value,
	.it_status = leveldb_adapter_it_status,
};
