/*
 * tcache.h — the table cache: open lsm_table handles, bounded in number.
 *
 * An lsm_cache of capacity max_open_tables, charge 1 per table, keyed by
 * file number. Opening a table reads its footer, index and filter, so
 * keeping hot tables open saves that work on every lookup; the bound keeps
 * the process under its file descriptor limit. A table handed out stays
 * usable after eviction: the caller holds its own table reference.
 */
#ifndef LSM_TCACHE_H
#define LSM_TCACHE_H

#include "cache.h"
#include "env.h"
#include "table.h"

#include <stdint.h>

typedef struct lsm_tcache lsm_tcache;

/* block_cache (may be NULL) is passed to every lsm_table_open. NULL on ENOMEM. */
lsm_tcache *lsm_tcache_new(lsm_env *env, const char *dir, int max_open, lsm_cache *block_cache);
void lsm_tcache_free(lsm_tcache *tc);

/*
 * Returns in *out table number (of file_size bytes) with one reference the
 * caller drops with lsm_table_unref. Opens it on a miss. Errors are those
 * of lsm_table_open.
 */
int lsm_tcache_get(lsm_tcache *tc, uint64_t number, uint64_t file_size, lsm_table **out);
/* Forgets table number (its file is being deleted). */
void lsm_tcache_evict(lsm_tcache *tc, uint64_t number);
/*
 * Block cache hits and misses: of tables already closed, plus those of
 * table number if it is open now (used to sum over the live files).
 */
void lsm_tcache_retired_stats(lsm_tcache *tc, uint64_t *hits, uint64_t *misses);
void lsm_tcache_open_stats(lsm_tcache *tc, uint64_t number, uint64_t *hits, uint64_t *misses);

#endif
