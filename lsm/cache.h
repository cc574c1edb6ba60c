/*
 * cache.h — a sharded LRU cache of reference-counted entries, used for
 * data blocks (key = table number + block offset) and open tables.
 *
 * Capacity is in "charge" units (bytes for blocks, 1 per table). An entry
 * handed out by lookup/insert stays valid until released, even if evicted
 * or erased meanwhile; the deleter runs when the last reference goes.
 * Thread-safe; each shard has its own mutex, picked by key hash.
 */
#ifndef LSM_CACHE_H
#define LSM_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_cache lsm_cache;
typedef struct lsm_cache_handle lsm_cache_handle;
typedef void (*lsm_cache_deleter)(const void *key, size_t klen, void *value);

/* capacity 0 gives a cache that keeps nothing once released. NULL on ENOMEM. */
lsm_cache *lsm_cache_new(size_t capacity);
void lsm_cache_free(lsm_cache *c);

/* Returns a referenced handle, or NULL if absent. */
lsm_cache_handle *lsm_cache_lookup(lsm_cache *c, const void *key, size_t klen);
/*
 * Inserts (replacing any entry with the same key) and returns a referenced
 * handle; NULL on out of memory (the deleter has then been called on value).
 */
lsm_cache_handle *lsm_cache_insert(lsm_cache *c, const void *key, size_t klen, void *value,
				   size_t charge, lsm_cache_deleter deleter);
void lsm_cache_release(lsm_cache *c, lsm_cache_handle *h);
void *lsm_cache_value(lsm_cache_handle *h);
/* Drops the entry from the cache (live handles stay valid). */
void lsm_cache_erase(lsm_cache *c, const void *key, size_t klen);
/* Sum of charges of entries in the cache. */
size_t lsm_cache_usage(lsm_cache *c);
/* A fresh id, so several users can prefix their keys apart. */
uint64_t lsm_cache_new_id(lsm_cache *c);

#endif
