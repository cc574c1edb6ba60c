/*
 * adapter_lsm.c — lsm-bench's adapter for liblsm (lsm.h).
 */
#include <config.h>

#include "adapter.h"

#include "lsm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct bench_db {
	lsm_db *db;
};

struct bench_it {
	lsm_iter *it;
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "liblsm: %s: %s (%s)\n", what, lsm_strerror(rc), lsm_errmsg());
	return -1;
}

static const char *lsm_compression_name(int compress)
{
	return compress ? "lz4" : "none";
}

static int lsm_adapter_open(const char *dir, const struct bench_opts *o, bench_db **dbp)
{
	lsm_options opts;
	lsm_options_init(&opts);
	opts.create_if_missing = 1;
	opts.memtable_bytes = o->memtable_bytes;
	opts.block_cache_bytes = o->cache_bytes;
	opts.bloom_bits_per_key = o->bloom_bits;
	opts.compression = o->compress ? LSM_COMPRESS_LZ4 : LSM_COMPRESS_NONE;
	opts.blob_threshold = o->blob_threshold;

	bench_db *b = calloc(1, sizeof(*b));
	if (!b)
		return fail("open", -ENOMEM);
	int rc = lsm_open(&b->db, dir, &opts);
	if (rc) {
		free(b);
		return fail("open", rc);
	}
	*dbp = b;
	return 0;
}

static int lsm_adapter_close(bench_db *b)
{
	int rc = lsm_close(b->db);
	free(b);
	return rc ? fail("close", rc) : 0;
}

static int lsm_adapter_put(bench_db *b, const char *key, size_t klen, const char *val, size_t vlen,
			   int sync)
{
	lsm_write_options wo = {.sync = sync};
	int rc = lsm_put(b->db, &wo, key, klen, val, vlen);
	return rc ? fail("put", rc) : 0;
}

static int lsm_adapter_del(bench_db *b, const char *key, size_t klen, int sync)
{
	lsm_write_options wo = {.sync = sync};
	int rc = lsm_delete(b->db, &wo, key, klen);
	return rc ? fail("delete", rc) : 0;
}

static int lsm_adapter_get(bench_db *b, const char *key, size_t klen, size_t *vlen)
{
	void *val = NULL;
	int rc = lsm_get(b->db, NULL, key, klen, &val, vlen);
	if (rc == LSM_NOTFOUND)
		return 0;
	if (rc)
		return fail("get", rc);
	free(val);
	return 1;
}

static int lsm_adapter_compact(bench_db *b)
{
	int rc = lsm_compact_range(b->db, NULL, 0, NULL, 0);
	return rc ? fail("compact range", rc) : 0;
}

static int lsm_adapter_flush(bench_db *b)
{
	int rc = lsm_flush(b->db);
	return rc ? fail("flush", rc) : 0;
}

static int lsm_adapter_busy(bench_db *b, uint64_t *progress)
{
	lsm_stats st;
	lsm_stats_get(b->db, &st);
	if (st.background_error)
		return fail("background work", st.background_error);
	/*
	 * Finished flushes, compactions and value-file collections, and the
	 * value files' bytes (which shrink as collection gives space back).
	 */
	*progress = st.flushes + st.compactions + st.compaction_bytes_written + st.blob_gc_runs +
		    st.blob_gc_bytes_written + st.blob_files + st.blob_file_bytes;
	return st.immutable_memtables > 0;
}

static bench_it *lsm_adapter_it_new(bench_db *b)
{
	bench_it *i = malloc(sizeof(*i));
	if (!i) {
		fail("iterator", -ENOMEM);
		return NULL;
	}
	i->it = lsm_iter_new(b->db, NULL);
	if (!i->it) {
		free(i);
		fail("iterator", -ENOMEM);
		return NULL;
	}
	return i;
}

static void lsm_adapter_it_free(bench_it *i)
{
	lsm_iter_free(i->it);
	free(i);
}

static void lsm_adapter_it_first(bench_it *i)
{
	lsm_iter_seek_first(i->it);
}

static void lsm_adapter_it_last(bench_it *i)
{
	lsm_iter_seek_last(i->it);
}

static void lsm_adapter_it_seek(bench_it *i, const char *key, size_t klen)
{
	lsm_iter_seek(i->it, key, klen);
}

static void lsm_adapter_it_next(bench_it *i)
{
	lsm_iter_next(i->it);
}

static void lsm_adapter_it_prev(bench_it *i)
{
	lsm_iter_prev(i->it);
}

static int lsm_adapter_it_valid(bench_it *i)
{
	return lsm_iter_valid(i->it);
}

static const char *lsm_adapter_it_key(bench_it *i, size_t *klen)
{
	return lsm_iter_key(i->it, klen);
}

static const char *lsm_adapter_it_value(bench_it *i, size_t *vlen)
{
	return lsm_iter_value(i->it, vlen);
}

static int lsm_adapter_it_status(bench_it *i)
{
	int rc = lsm_iter_status(i->it);
	return rc ? fail("iterator", rc) : 0;
}

const struct bench_engine bench_engine_lsm = {
	.name = "liblsm",
	.compression_name = lsm_compression_name,
	.open = lsm_adapter_open,
	.close = lsm_adapter_close,
	.put = lsm_adapter_put,
	.del = lsm_adapter_del,
	.get = lsm_adapter_get,
	.compact = lsm_adapter_compact,
	.flush = lsm_adapter_flush,
	.busy = lsm_adapter_busy,
	.it_new = lsm_adapter_it_new,
	.it_free = lsm_adapter_it_free,
	.it_first = lsm_adapter_it_first,
	.it_last = lsm_adapter_it_last,
	.it_seek = lsm_adapter_it_seek,
	.it_next = lsm_adapter_it_next,
	.it_prev = lsm_adapter_it_prev,
	.it_valid = lsm_adapter_it_valid,
	.it_key = lsm_adapter_it_key,
	.it_value = lsm_adapter_it_value,
	.it_status = lsm_adapter_it_status,
};
