/* tcache.c — the table cache; see tcache.h. */
#include "tcache.h"

#include "error.h"
#include "version.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct lsm_tcache {
	lsm_env *env;
	char *dir;
	lsm_cache *cache;	/* number -> tc_entry */
	lsm_cache *block_cache; /* not owned */
	/* Block cache counters of tables already closed; atomic. */
	uint64_t retired_hits, retired_misses;
};

/* The cached value: the deleter needs the cache to fold the table's counters in. */
typedef struct tc_entry {
	lsm_table *table;
	lsm_tcache *tc;
} tc_entry;

static void tc_delete(const void *key, size_t klen, void *value)
{
	tc_entry *e = value;
	uint64_t hits, misses;
	(void)key;
	(void)klen;
	lsm_table_cache_stats(e->table, &hits, &misses);
	__atomic_fetch_add(&e->tc->retired_hits, hits, __ATOMIC_RELAXED);
	__atomic_fetch_add(&e->tc->retired_misses, misses, __ATOMIC_RELAXED);
	lsm_table_unref(e->table);
	free(e);
}

lsm_tcache *lsm_tcache_new(lsm_env *env, const char *dir, int max_open, lsm_cache *block_cache)
{
	lsm_tcache *tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	tc->env = env;
	tc->dir = strdup(dir);
	tc->cache = lsm_cache_new(max_open > 0 ? (size_t)max_open : 1);
	tc->block_cache = block_cache;
	if (!tc->dir || !tc->cache) {
		lsm_tcache_free(tc);
		return NULL;
	}
	return tc;
}

void lsm_tcache_free(lsm_tcache *tc)
{
	if (!tc)
		return;
	if (tc->cache)
		lsm_cache_free(tc->cache);
	free(tc->dir);
	free(tc);
}

int lsm_tcache_get(lsm_tcache *tc, uint64_t number, uint64_t file_size, lsm_table **out)
{
	uint8_t key[8];
	lsm_put_le64(key, number);
	lsm_cache_handle *h = lsm_cache_lookup(tc->cache, key, sizeof(key));
	if (h) {
		tc_entry *e = lsm_cache_value(h);
		lsm_table_ref(e->table);
		*out = e->table;
		lsm_cache_release(tc->cache, h);
		return 0;
	}

	/*
	 * Two threads missing at once both open the table; the second insert
	 * replaces the first, whose handle lives on until released. Rare and
	 * harmless, and it keeps the open out of any lock.
	 */
	int rc;
	lsm_table *t = NULL;
	char *path = lsm_table_filename(tc->dir, number);
	if (!path)
		return lsm_seterr(-ENOMEM, "table cache: out of memory");
	rc = lsm_table_open(tc->env, path, file_size, tc->block_cache, &t);
	if (rc)
		goto out;
	tc_entry *e = malloc(sizeof(*e));
	if (!e) {
		lsm_table_unref(t);
		rc = lsm_seterr(-ENOMEM, "table cache: out of memory");
		goto out;
	}
	e->table = t;
	e->tc = tc;
	lsm_table_ref(t); /* the caller's reference; the entry keeps the first */
	h = lsm_cache_insert(tc->cache, key, sizeof(key), e, 1, tc_delete);
	if (h)
		lsm_cache_release(tc->cache, h);
	/* Without a handle the deleter already dropped the entry's reference. */
	*out = t;
out:
	free(path);
	return rc;
}

void lsm_tcache_evict(lsm_tcache *tc, uint64_t number)
{
	uint8_t key[8];
	lsm_put_le64(key, number);
	lsm_cache_erase(tc->cache, key, sizeof(key));
}

void lsm_tcache_retired_stats(lsm_tcache *tc, uint64_t *hits, uint64_t *misses)
{
	*hits = __atomic_load_n(&tc->retired_hits, __ATOMIC_RELAXED);
	*misses = __atomic_load_n(&tc->retired_misses, __ATOMIC_RELAXED);
}

void lsm_tcache_open_stats(lsm_tcache *tc, uint64_t number, uint64_t *hits, uint64_t *misses)
{
	uint8_t key[8];
	*hits = *misses = 0;
	lsm_put_le64(key, number);
	lsm_cache_handle *h = lsm_cache_lookup(tc->cache, key, sizeof(key));
	if (!h)
		return;
	tc_entry *e = lsm_cache_value(h);
	lsm_table_cache_stats(e->table, hits, misses);
	lsm_cache_release(tc->cache, h);
}
