/*
 * memtable.c — the skiplist memtable; see memtable.h.
 *
 * Every entry is one arena allocation:
 *
 *   [mt_node header: trailer:8 ukey_len:4 height:1 koff:1 pad:2]
 *   [next[0] .. next[height-1]: pointers]
 *   [varint ikey_len][internal key = user key + le64 trailer][varint vlen][value]
 *
 * The header repeats the trailer and the user key length so that a compare
 * against a search target is one memcmp plus an integer compare, without
 * decoding varints or re-encoding the target as an internal key.
 *
 * Concurrency: one writer (serialised by the caller) and any number of
 * lock-free readers. A new node's own tower is filled before it is linked,
 * and each link into the list is a release store; readers follow links with
 * acquire loads, so a reader that reaches a node sees all of its bytes.
 * Nodes are never unlinked or freed before the memtable itself, so readers
 * need no reclamation scheme: the reference count is the only lifetime.
 */
#include "memtable.h"

#include "arena.h"
#include "error.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Branching 4 with a cap of 12 levels serves up to 4^12 = 16M entries at
 * log4(n) expected levels, far beyond a memtable of a few MiB to tens of MiB.
 */
#define MT_MAX_HEIGHT 12
#define MT_BRANCHING  4

typedef struct mt_node {
	uint64_t trailer;  /* seq << 8 | type, copied from the internal key */
	uint32_t ukey_len; /* user key length */
	uint8_t height;	   /* tower height, 1..MT_MAX_HEIGHT */
	uint8_t koff;	   /* bytes of the ikey_len varint before the internal key */
	/* next[i]: written once with a release store, read with acquire loads */
	struct mt_node *next[];
} mt_node;

struct lsm_memtable {
	mt_node *head;	 /* sentinel with a full tower; immutable after new */
	lsm_arena arena; /* allocation by the single writer; usage read atomically */
	int max_height;	 /* atomic; only the writer stores it, any thread loads it */
	uint64_t rng;	 /* tower heights; writer only */
	uint64_t count;	 /* atomic; entries added */
	int refs;	 /* atomic */
};

static inline const uint8_t *node_ikey(const mt_node *n)
{
	return (const uint8_t *)&n->next[n->height] + n->koff;
}

static inline lsm_slice node_value(const mt_node *n)
{
	const uint8_t *p = node_ikey(n) + n->ukey_len + LSM_TRAILER;
	uint64_t vlen = 0;
	/* The writer encoded it: a bound of 10 bytes is enough and cannot fail. */
	p = lsm_get_varint64(p, p + LSM_VARINT64_MAX, &vlen);
	assert(p);
	return lsm_slice_of(p, (size_t)vlen);
}

static inline mt_node *load_next(const mt_node *n, int level)
{
	return __atomic_load_n(&n->next[level], __ATOMIC_ACQUIRE);
}

/*
 * Reading a stale height is harmless in both directions: an old one skips
 * the newest top levels, a new one may meet a NULL head link there and
 * simply descend. So relaxed is enough.
 */
static inline int load_height(const lsm_memtable *m)
{
	return __atomic_load_n(&m->max_height, __ATOMIC_RELAXED);
}

/* Orders node n against the target (ukey, trailer) as lsm_ikey_compare does. */
static inline int node_cmp(const mt_node *n, const uint8_t *ukey, size_t ulen, uint64_t trailer)
{
	size_t nl = n->ukey_len;
	size_t len = nl < ulen ? nl : ulen;
	int c = len ? memcmp(node_ikey(n), ukey, len) : 0;
	if (c)
		return c;
	if (nl != ulen)
		return nl < ulen ? -1 : 1;
	/* newer (higher trailer) sorts first */
	return n->trailer > trailer ? -1 : n->trailer < trailer;
}

/*
 * First node >= target, or NULL. When prev is given, prev[l] receives the
 * last node < target at each level l below the current height (the writer's
 * splice points).
 */
static mt_node *find_ge(const lsm_memtable *m, const uint8_t *ukey, size_t ulen, uint64_t trailer,
			mt_node **prev)
{
	mt_node *x = m->head;
	mt_node *known_ge = NULL; /* a node already found >= target: skip re-comparing it */
	int level = load_height(m) - 1;
	for (;;) {
		mt_node *nx = load_next(x, level);
		if (nx && nx != known_ge && node_cmp(nx, ukey, ulen, trailer) < 0) {
			x = nx;
			continue;
		}
		if (prev)
			prev[level] = x;
		if (level == 0)
			return nx;
		known_ge = nx;
		level--;
	}
}

/* Last node < target, or the head when there is none. */
static mt_node *find_lt(const lsm_memtable *m, const uint8_t *ukey, size_t ulen, uint64_t trailer)
{
	mt_node *x = m->head;
	mt_node *known_ge = NULL;
	int level = load_height(m) - 1;
	for (;;) {
		mt_node *nx = load_next(x, level);
		if (nx && nx != known_ge && node_cmp(nx, ukey, ulen, trailer) < 0) {
			x = nx;
			continue;
		}
		if (level == 0)
			return x;
		known_ge = nx;
		level--;
	}
}

/* Last node of the list, or the head when empty. */
static mt_node *find_last(const lsm_memtable *m)
{
	mt_node *x = m->head;
	int level = load_height(m) - 1;
	for (;;) {
		mt_node *nx = load_next(x, level);
		if (nx) {
			x = nx;
			continue;
		}
		if (level == 0)
			return x;
		level--;
	}
}

/* Writer only: height with P(h > k) = 1/4^k. */
static int random_height(lsm_memtable *m)
{
	int h = 1;
	for (;;) {
		/* xorshift64: cheap and good enough for a coin */
		uint64_t x = m->rng;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		m->rng = x;
		if (h >= MT_MAX_HEIGHT || (x >> 32) % MT_BRANCHING != 0)
			break;
		h++;
	}
	return h;
}

lsm_memtable *lsm_memtable_new(void)
{
	lsm_memtable *m = malloc(sizeof(*m));
	if (!m)
		return NULL;
	lsm_arena_init(&m->arena);
	m->head = lsm_arena_alloc(&m->arena, sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(mt_node *));
	if (!m->head) {
		lsm_arena_destroy(&m->arena);
		free(m);
		return NULL;
	}
	memset(m->head, 0, sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(mt_node *));
	m->head->height = MT_MAX_HEIGHT;
	m->max_height = 1;
	m->rng = 0x2545f4914f6cdd1dull ^ (uint64_t)(uintptr_t)m;
	m->count = 0;
	m->refs = 1;
	return m;
}

void lsm_memtable_ref(lsm_memtable *m)
{
	int old = __atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
	assert(old > 0);
	(void)old;
}

void lsm_memtable_unref(lsm_memtable *m)
{
	if (!m)
		return;
	/* acq_rel: the thread that frees must see every other holder's last use */
	int old = __atomic_fetch_sub(&m->refs, 1, __ATOMIC_ACQ_REL);
	assert(old > 0);
	if (old == 1) {
		lsm_arena_destroy(&m->arena);
		free(m);
	}
}

int lsm_memtable_add(lsm_memtable *m, uint64_t seq, int type, lsm_slice key, lsm_slice value)
{
	assert(seq <= LSM_MAX_SEQ);
	assert(type >= 0 && type <= 0xff);
	if (key.len > UINT32_MAX - LSM_TRAILER)
		return lsm_seterr(-EINVAL, "memtable: key of %zu bytes is too long", key.len);

	size_t ikey_len = key.len + LSM_TRAILER;
	size_t klen_len = lsm_varint_len(ikey_len);
	size_t vlen_len = lsm_varint_len(value.len);
	int height = random_height(m);
	size_t tower = (size_t)height * sizeof(mt_node *);
	size_t size = sizeof(mt_node) + tower + klen_len + ikey_len + vlen_len + value.len;

	/* Allocate and fill first, so a failure leaves the list untouched. */
	mt_node *n = lsm_arena_alloc(&m->arena, size);
	if (!n)
		return lsm_seterr(-ENOMEM, "memtable: out of memory for a %zu-byte entry", size);
	uint64_t trailer = lsm_pack_trailer(seq, type);
	n->trailer = trailer;
	n->ukey_len = (uint32_t)key.len;
	n->height = (uint8_t)height;
	n->koff = (uint8_t)klen_len;
	uint8_t *p = (uint8_t *)&n->next[height];
	p += lsm_put_varint64(p, ikey_len);
	lsm_ikey_make(p, key.data, key.len, seq, type);
	p += ikey_len;
	p += lsm_put_varint64(p, value.len);
	if (value.len)
		memcpy(p, value.data, value.len);
	assert(p + value.len == (uint8_t *)n + size);

	mt_node *prev[MT_MAX_HEIGHT];
	mt_node *ge = find_ge(m, key.data, key.len, trailer, prev);
	assert(!ge || node_cmp(ge, key.data, key.len, trailer) > 0);
	(void)ge;

	int cur = load_height(m);
	if (height > cur) {
		for (int i = cur; i < height; i++)
			prev[i] = m->head;
		__atomic_store_n(&m->max_height, height, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < height; i++) {
		/* n is not reachable yet: its own links need no ordering... */
		__atomic_store_n(&n->next[i], load_next(prev[i], i), __ATOMIC_RELAXED);
		/* ...but publishing it must make all of n's bytes visible first. */
		__atomic_store_n(&prev[i]->next[i], n, __ATOMIC_RELEASE);
	}
	__atomic_add_fetch(&m->count, 1, __ATOMIC_RELAXED);
	return 0;
}

int lsm_memtable_get(lsm_memtable *m, lsm_slice key, uint64_t seq, int *type, lsm_slice *value)
{
	if (seq > LSM_MAX_SEQ)
		seq = LSM_MAX_SEQ;
	const mt_node *n =
		find_ge(m, key.data, key.len, lsm_pack_trailer(seq, LSM_TYPE_FOR_SEEK), NULL);
	if (!n || n->ukey_len != key.len || (key.len && memcmp(node_ikey(n), key.data, key.len)))
		return 0;
	*type = (int)(n->trailer & 0xff);
	*value = node_value(n);
	return 1;
}

size_t lsm_memtable_bytes(const lsm_memtable *m)
{
	return lsm_arena_usage(&m->arena);
}

uint64_t lsm_memtable_count(const lsm_memtable *m)
{
	return __atomic_load_n(&m->count, __ATOMIC_RELAXED);
}

/* ---- iterator ---- */

typedef struct mt_iter {
	lsm_it base;
	lsm_memtable *m;     /* holds a reference */
	const mt_node *node; /* current entry; NULL when invalid */
} mt_iter;

static int mti_valid(lsm_it *it)
{
	return ((mt_iter *)it)->node != NULL;
}

static void mti_seek_first(lsm_it *it)
{
	mt_iter *mi = (mt_iter *)it;
	mi->node = load_next(mi->m->head, 0);
}

static void mti_seek_last(lsm_it *it)
{
	mt_iter *mi = (mt_iter *)it;
	const mt_node *n = find_last(mi->m);
	mi->node = n == mi->m->head ? NULL : n;
}

static void mti_seek(lsm_it *it, lsm_slice target)
{
	mt_iter *mi = (mt_iter *)it;
	assert(target.len >= LSM_TRAILER);
	mi->node = find_ge(mi->m, target.data, target.len - LSM_TRAILER, lsm_ikey_trailer(target),
			   NULL);
}

static void mti_next(lsm_it *it)
{
	mt_iter *mi = (mt_iter *)it;
	assert(mi->node);
	mi->node = load_next(mi->node, 0);
}

static void mti_prev(lsm_it *it)
{
	mt_iter *mi = (mt_iter *)it;
	assert(mi->node);
	/* No back links: search for the last node before the current one. */
	const mt_node *n =
		find_lt(mi->m, node_ikey(mi->node), mi->node->ukey_len, mi->node->trailer);
	mi->node = n == mi->m->head ? NULL : n;
}

static lsm_slice mti_key(lsm_it *it)
{
	const mt_node *n = ((mt_iter *)it)->node;
	assert(n);
	return lsm_slice_of(node_ikey(n), (size_t)n->ukey_len + LSM_TRAILER);
}

static lsm_slice mti_value(lsm_it *it)
{
	const mt_node *n = ((mt_iter *)it)->node;
	assert(n);
	return node_value(n);
}

static int mti_status(lsm_it *it)
{
	(void)it;
	return 0;
}

static void mti_destroy(lsm_it *it)
{
	mt_iter *mi = (mt_iter *)it;
	lsm_memtable_unref(mi->m);
	free(mi);
}

static const lsm_it_ops mt_iter_ops = {
	.valid = mti_valid,
	.seek_first = mti_seek_first,
	.seek_last = mti_seek_last,
	.seek = mti_seek,
	.next = mti_next,
	.prev = mti_prev,
	.key = mti_key,
	.value = mti_value,
	.status = mti_status,
	.destroy = mti_destroy,
};

lsm_it *lsm_memtable_iter(lsm_memtable *m)
{
	mt_iter *mi = malloc(sizeof(*mi));
	if (!mi)
		return NULL;
	mi->base.ops = &mt_iter_ops;
	lsm_memtable_ref(m);
	mi->m = m;
	mi->node = NULL;
	return &mi->base;
}
