/*
 * fuzz_table.c — the table reader (lsm/table.h) on an arbitrary file: open,
 * iterate both ways, seek and get with keys taken from the table and from
 * the input, and verify. Every failure must be a clean error code; keys
 * seen must come in order.
 */
#include "fuzz.h"

#include "error.h"
#include "table.h"

#define MAX_KEYS 8

static void touch(lsm_slice s)
{
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < s.len; i++)
		sum ^= s.data[i];
	(void)sum;
}

static void report(void *arg, const char *file, uint64_t offset, const char *msg)
{
	(void)file, (void)offset, (void)msg;
	(*(int *)arg)++;
}

static void get_key(lsm_table *t, lsm_slice ikey)
{
	lsm_buf val;
	int type = -1, skipped = 0, rc;
	lsm_buf_init(&val);
	rc = lsm_table_get(t, ikey, 1, &type, &val, &skipped);
	FUZZ_ASSERT(rc == 0 || rc == 1 || rc < 0);
	if (rc == 1)
		FUZZ_ASSERT(type == LSM_TYPE_VALUE || type == LSM_TYPE_DELETE);
	lsm_buf_free(&val);
}

static void exercise(lsm_table *t, const uint8_t *data, size_t size, int fill_cache)
{
	lsm_buf keys[MAX_KEYS], prev;
	int nkeys = 0;
	unsigned long n = 0;
	lsm_it *it = lsm_table_iter(t, fill_cache);

	lsm_buf_init(&prev);
	if (it) {
		for (lsm_it_seek_first(it); lsm_it_valid(it) && n <= size; lsm_it_next(it), n++) {
			lsm_slice k = lsm_it_key(it);
			touch(k);
			touch(lsm_it_value(it));
			if (n && k.len >= LSM_TRAILER && prev.len >= LSM_TRAILER)
				FUZZ_ASSERT(lsm_ikey_compare(lsm_slice_of(prev.data, prev.len), k) <
					    0);
			prev.len = 0;
			lsm_buf_append(&prev, k.data, k.len);
			if (nkeys < MAX_KEYS && k.len >= LSM_TRAILER) {
				lsm_buf_init(&keys[nkeys]);
				lsm_buf_append(&keys[nkeys], k.data, k.len);
				nkeys++;
			}
		}
		FUZZ_ASSERT(n <= size);
		FUZZ_ASSERT(lsm_it_status(it) <= 0);
		n = 0;
		for (lsm_it_seek_last(it); lsm_it_valid(it) && n <= size; lsm_it_prev(it), n++) {
			touch(lsm_it_key(it));
			touch(lsm_it_value(it));
		}
		FUZZ_ASSERT(lsm_it_status(it) <= 0);
		for (int i = 0; i < nkeys; i++) {
			lsm_it_seek(it, lsm_slice_of(keys[i].data, keys[i].len));
			if (lsm_it_valid(it))
				touch(lsm_it_key(it));
		}
		lsm_it_destroy(it);
	}
	for (int i = 0; i < nkeys; i++) {
		get_key(t, lsm_slice_of(keys[i].data, keys[i].len));
		lsm_buf_free(&keys[i]);
	}
	/* A key made of the input's first bytes, whatever they are. */
	if (size >= LSM_TRAILER)
		get_key(t, lsm_slice_of(data, size < 40 ? size : 40));
	lsm_buf_free(&prev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	lsm_table *t = NULL;
	lsm_cache *cache;
	int rc, problems = 0;

	fuzz_write_file("000001.sst", data, size, path, sizeof(path));
	cache = lsm_cache_new(1 << 20);
	FUZZ_ASSERT(cache != NULL);
	rc = lsm_table_open(lsm_env_posix(), path, size, cache, &t);
	if (rc) {
		FUZZ_ASSERT(rc < 0 && t == NULL);
		(void)lsm_errmsg();
		lsm_cache_free(cache);
		return 0;
	}
	FUZZ_ASSERT(lsm_table_get_props(t) != NULL);
	exercise(t, data, size, 1);
	exercise(t, data, size, 0);
	rc = lsm_table_verify(t, report, &problems);
	FUZZ_ASSERT(rc == 0 || rc == -LSM_ECORRUPT);
	if (rc == 0)
		FUZZ_ASSERT(problems == 0);
	lsm_table_unref(t);
	lsm_cache_free(cache);
	return 0;
}
