/*
 * cache.c — sharded LRU cache of reference-counted entries; see cache.h.
 *
 * Each shard keeps two views of its entries:
 *   - a chained hash table holding every entry that is "in the cache";
 *   - an LRU list holding only those in-cache entries no caller references.
 * An entry a caller holds is on no list, so eviction can never pick it; when
 * the last caller releases it, it joins the hot end of the LRU list, and
 * eviction takes from the cold end while the shard's usage exceeds its
 * capacity. Recency is therefore the time of last release, which is what
 * matters: an entry still in use needs no protection from eviction.
 *
 * Reference counting: refs counts caller handles plus one while the entry is
 * in the cache (in_cache). Invariant, under the shard lock:
 *   on the LRU list  <=>  in_cache && refs == 1.
 * An entry leaves the cache (erase, replacement, eviction) by losing the
 * cache's reference; whoever drops refs to zero runs the deleter, always
 * after unlocking, so a deleter may itself use the cache (a table deleter
 * releasing block handles, say) without deadlocking.
 *
 * Sharding spreads lock contention: 16 shards, picked by the top bits of the
 * key's lsm_hash64 (the low bits pick the hash bucket, so the two choices
 * stay independent). A cache of capacity below 16 gets fewer shards (the
 * largest power of two not above its capacity): a shard of capacity zero
 * would keep nothing, so a table cache of 10 files would mostly miss.
 *
 * Locking: one mutex per shard protects everything in it; no operation holds
 * two shard locks at once.
 */
#include "cache.h"
#include "checksum.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SHARD_BITS_MAX 4 /* 16 shards */
#define CACHE_SHARDS_MAX     (1u << CACHE_SHARD_BITS_MAX)
#define CACHE_BUCKETS_MIN    16 /* power of two; the table doubles as it fills */
#define CACHE_LINE	     64

struct lru_link {
	struct lru_link *prev, *next;
};

struct lsm_cache_handle {
	/* protected by the shard's mu */
	struct lru_link lru;		    /* first: the list sentinel casts back */
	struct lsm_cache_handle *next_hash; /* bucket chain; pending-delete list once dead */
	uint32_t refs;			    /* callers' handles + 1 while in_cache */
	bool in_cache;			    /* reachable through the shard's table */

	/* immutable after insert */
	void *value;
	lsm_cache_deleter deleter;
	size_t charge;
	uint64_t hash;
	size_t klen;
	unsigned char key[];
};

typedef struct cache_shard {
	pthread_mutex_t mu;
	size_t capacity; /* immutable after lsm_cache_new */

	/* protected by mu */
	size_t usage;	 /* sum of charges of in-cache entries */
	size_t handles;	 /* callers' references outstanding, for the check in lsm_cache_free */
	size_t count;	 /* entries in the table */
	size_t nbuckets; /* power of two */
	lsm_cache_handle **buckets;
	struct lru_link lru; /* sentinel: lru.next is the coldest entry, lru.prev the hottest */
} __attribute__((aligned(CACHE_LINE))) cache_shard; /* no false sharing between shard locks */

struct lsm_cache {
	cache_shard shards[CACHE_SHARDS_MAX];
	unsigned shard_bits; /* immutable: 1 << shard_bits shards are used */
	uint64_t last_id;    /* atomic */
};

static lsm_cache_handle *entry_of(struct lru_link *l)
{
	return (lsm_cache_handle *)((char *)l - offsetof(lsm_cache_handle, lru));
}

static cache_shard *shard_for(lsm_cache *c, uint64_t hash)
{
	/* A shift by 64 would be undefined: one shard needs no bits. */
	unsigned i = c->shard_bits ? (unsigned)(hash >> (64 - c->shard_bits)) : 0;
	return &c->shards[i];
}

/* ---- LRU list; REQUIRES: s->mu held ---- */

static void lru_remove(lsm_cache_handle *e)
{
	assert(e->in_cache && e->refs == 1);
	e->lru.prev->next = e->lru.next;
	e->lru.next->prev = e->lru.prev;
	e->lru.prev = e->lru.next = NULL;
}

static void lru_append_hot(cache_shard *s, lsm_cache_handle *e)
{
	assert(e->in_cache && e->refs == 1 && !e->lru.next);
	e->lru.next = &s->lru;
	e->lru.prev = s->lru.prev;
	s->lru.prev->next = &e->lru;
	s->lru.prev = &e->lru;
}

/* ---- hash table; REQUIRES: s->mu held ---- */

static bool key_eq(const lsm_cache_handle *e, const void *key, size_t klen, uint64_t hash)
{
	/* memcmp with a NULL pointer is undefined even for length 0 */
	return e->hash == hash && e->klen == klen && (klen == 0 || memcmp(e->key, key, klen) == 0);
}

/* The link that points at the entry for key, or the NULL link ending its chain. */
static lsm_cache_handle **table_slot(cache_shard *s, const void *key, size_t klen, uint64_t hash)
{
	lsm_cache_handle **slot = &s->buckets[hash & (s->nbuckets - 1)];
	while (*slot && !key_eq(*slot, key, klen, hash))
		slot = &(*slot)->next_hash;
	return slot;
}

/*
 * Doubles the bucket array. Failing to allocate only leaves chains longer, so
 * the error is not reported: the cache stays correct, just slower.
 */
static void table_grow(cache_shard *s)
{
	size_t n = s->nbuckets * 2;
	lsm_cache_handle **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		lsm_cache_handle *e = s->buckets[i];
		while (e) {
			lsm_cache_handle *next = e->next_hash;
			lsm_cache_handle **head = &b[e->hash & (n - 1)];
			e->next_hash = *head;
			*head = e;
			e = next;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

/* Puts e in the table; returns the entry it displaced (same key), or NULL. */
static lsm_cache_handle *table_insert(cache_shard *s, lsm_cache_handle *e)
{
	lsm_cache_handle **slot = table_slot(s, e->key, e->klen, e->hash);
	lsm_cache_handle *old = *slot;
	e->next_hash = old ? old->next_hash : NULL;
	*slot = e;
	if (!old && ++s->count > s->nbuckets)
		table_grow(s); /* keep the average chain at most one long */
	return old;
}

static void table_remove(cache_shard *s, lsm_cache_handle *e)
{
	lsm_cache_handle **slot = table_slot(s, e->key, e->klen, e->hash);
	assert(*slot == e);
	*slot = e->next_hash;
	e->next_hash = NULL;
	assert(s->count > 0);
	s->count--;
}

/* ---- reference counting; REQUIRES: s->mu held ---- */

static void ref(lsm_cache_handle *e)
{
	if (e->in_cache && e->refs == 1)
		lru_remove(e); /* now in use: not evictable */
	e->refs++;
}

/* Drops one reference; an entry left unreferenced is queued on *dead for its deleter. */
static void unref(cache_shard *s, lsm_cache_handle *e, lsm_cache_handle **dead)
{
	assert(e->refs > 0);
	e->refs--;
	if (e->refs == 0) {
		assert(!e->in_cache && !e->lru.next);
		e->next_hash = *dead;
		*dead = e;
	} else if (e->in_cache && e->refs == 1) {
		lru_append_hot(s, e);
	}
}

/* Takes e, already unlinked from the table, out of the cache. */
static void drop_from_cache(cache_shard *s, lsm_cache_handle *e, lsm_cache_handle **dead)
{
	assert(e->in_cache);
	if (e->refs == 1)
		lru_remove(e);
	e->in_cache = false;
	assert(s->usage >= e->charge);
	s->usage -= e->charge;
	unref(s, e, dead);
}

static void evict(cache_shard *s, lsm_cache_handle **dead)
{
	while (s->usage > s->capacity && s->lru.next != &s->lru) {
		lsm_cache_handle *e = entry_of(s->lru.next);
		table_remove(s, e);
		drop_from_cache(s, e, dead);
	}
}

/* Runs the deleters of entries queued by unref. REQUIRES: no shard lock held. */
static void free_dead(lsm_cache_handle *dead)
{
	while (dead) {
		lsm_cache_handle *next = dead->next_hash;
		if (dead->deleter)
			dead->deleter(dead->key, dead->klen, dead->value);
		free(dead);
		dead = next;
	}
}

/* ---- public API ---- */

lsm_cache *lsm_cache_new(size_t capacity)
{
	/* sizeof is a multiple of the alignment, as aligned_alloc requires */
	lsm_cache *c = aligned_alloc(_Alignof(lsm_cache), sizeof(*c));
	if (!c)
		return NULL;
	memset(c, 0, sizeof(*c));

	unsigned bits = 0;
	while (bits < CACHE_SHARD_BITS_MAX && ((size_t)2 << bits) <= capacity)
		bits++;
	c->shard_bits = bits;
	size_t nshards = (size_t)1 << bits;

	size_t i;
	for (i = 0; i < nshards; i++) {
		cache_shard *s = &c->shards[i];
		/* the remainder goes one unit each to the first shards: the sum is exact */
		s->capacity = (capacity >> bits) + (i < (capacity & (nshards - 1)) ? 1 : 0);
		s->lru.next = s->lru.prev = &s->lru;
		s->nbuckets = CACHE_BUCKETS_MIN;
		s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
		if (!s->buckets)
			goto fail;
		if (pthread_mutex_init(&s->mu, NULL) != 0) {
			free(s->buckets);
			goto fail;
		}
	}
	return c;

fail:
	while (i-- > 0) {
		pthread_mutex_destroy(&c->shards[i].mu);
		free(c->shards[i].buckets);
	}
	free(c);
	return NULL;
}

void lsm_cache_free(lsm_cache *c)
{
	if (!c)
		return;
	size_t nshards = (size_t)1 << c->shard_bits;
	for (size_t i = 0; i < nshards; i++) {
		cache_shard *s = &c->shards[i];
		/* REQUIRES: every handle released; an erased entry still held would leak */
		assert(s->handles == 0);
		lsm_cache_handle *dead = NULL;
		for (size_t b = 0; b < s->nbuckets; b++) {
			lsm_cache_handle *e = s->buckets[b];
			while (e) {
				lsm_cache_handle *next = e->next_hash;
				assert(e->in_cache && e->refs == 1);
				lru_remove(e);
				e->in_cache = false;
				e->refs = 0;
				e->next_hash = dead;
				dead = e;
				s->count--;
				e = next;
			}
		}
		assert(s->count == 0 && s->lru.next == &s->lru);
		free_dead(dead);
		free(s->buckets);
		pthread_mutex_destroy(&s->mu);
	}
	free(c);
}

lsm_cache_handle *lsm_cache_lookup(lsm_cache *c, const void *key, size_t klen)
{
	uint64_t hash = lsm_hash64(key, klen);
	cache_shard *s = shard_for(c, hash);
	pthread_mutex_lock(&s->mu);
	lsm_cache_handle *e = *table_slot(s, key, klen, hash);
	if (e) {
		ref(e);
		s->handles++;
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

lsm_cache_handle *lsm_cache_insert(lsm_cache *c, const void *key, size_t klen, void *value,
				   size_t charge, lsm_cache_deleter deleter)
{
	lsm_cache_handle *e = malloc(sizeof(*e) + klen);
	if (!e) {
		if (deleter)
			deleter(key, klen, value);
		return NULL;
	}
	e->lru.prev = e->lru.next = NULL;
	e->next_hash = NULL;
	e->refs = 1; /* the caller's handle */
	e->in_cache = false;
	e->value = value;
	e->deleter = deleter;
	e->charge = charge;
	e->hash = lsm_hash64(key, klen);
	e->klen = klen;
	if (klen)
		memcpy(e->key, key, klen);

	cache_shard *s = shard_for(c, e->hash);
	lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	s->handles++;
	/* A shard of capacity zero caches nothing: the entry lives only while held. */
	if (s->capacity > 0) {
		e->refs++;
		e->in_cache = true;
		assert(s->usage + charge >= s->usage);
		s->usage += charge;
		lsm_cache_handle *old = table_insert(s, e);
		if (old)
			drop_from_cache(s, old, &dead);
		evict(s, &dead);
	}
	pthread_mutex_unlock(&s->mu);
	free_dead(dead);
	return e;
}

void lsm_cache_release(lsm_cache *c, lsm_cache_handle *h)
{
	assert(h);
	cache_shard *s = shard_for(c, h->hash);
	lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	assert(s->handles > 0);
	s->handles--;
	unref(s, h, &dead);
	/* usage may have grown past capacity while entries were held: trim it now */
	evict(s, &dead);
	pthread_mutex_unlock(&s->mu);
	free_dead(dead);
}

void *lsm_cache_value(lsm_cache_handle *h)
{
	/* immutable after insert and kept alive by the caller's reference: no lock */
	return h->value;
}

void lsm_cache_erase(lsm_cache *c, const void *key, size_t klen)
{
	uint64_t hash = lsm_hash64(key, klen);
	cache_shard *s = shard_for(c, hash);
	lsm_cache_handle *dead = NULL;
	pthread_mutex_lock(&s->mu);
	lsm_cache_handle **slot = table_slot(s, key, klen, hash);
	lsm_cache_handle *e = *slot;
	if (e) {
		*slot = e->next_hash;
		e->next_hash = NULL;
		s->count--;
		drop_from_cache(s, e, &dead);
	}
	pthread_mutex_unlock(&s->mu);
	free_dead(dead);
}

size_t lsm_cache_usage(lsm_cache *c)
{
	size_t nshards = (size_t)1 << c->shard_bits;
	size_t total = 0;
	for (size_t i = 0; i < nshards; i++) {
		cache_shard *s = &c->shards[i];
		pthread_mutex_lock(&s->mu);
		total += s->usage;
		pthread_mutex_unlock(&s->mu);
	}
	return total;
}

uint64_t lsm_cache_new_id(lsm_cache *c)
{
	return __atomic_add_fetch(&c->last_id, 1, __ATOMIC_RELAXED);
}
