/* kvmodel.c — the reference sorted map; see kvmodel.h. */
#include "kvmodel.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An immutable byte string shared by every model that holds it. */
typedef struct blob {
	size_t refs;
	size_t len;
	unsigned char bytes[];
} blob;

typedef struct entry {
	blob *key;
	blob *val;
} entry;

struct kvmodel {
	entry *e; /* sorted by key, no duplicates */
	size_t n, cap;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static blob *blob_new(const void *bytes, size_t len)
{
	blob *b = xmalloc(sizeof(*b) + len);
	b->refs = 1;
	b->len = len;
	if (len)
		memcpy(b->bytes, bytes, len);
	return b;
}

static blob *blob_ref(blob *b)
{
	b->refs++;
	return b;
}

static void blob_unref(blob *b)
{
	assert(b->refs > 0);
	if (--b->refs == 0)
		free(b);
}

int kvm_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

kvmodel *kvm_new(void)
{
	kvmodel *m = xmalloc(sizeof(*m));
	m->e = NULL;
	m->n = m->cap = 0;
	return m;
}

void kvm_free(kvmodel *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		blob_unref(m->e[i].key);
		blob_unref(m->e[i].val);
	}
	free(m->e);
	free(m);
}

kvmodel *kvm_clone(const kvmodel *m)
{
	kvmodel *c = kvm_new();
	c->cap = c->n = m->n;
	c->e = xmalloc(m->n * sizeof(entry));
	for (size_t i = 0; i < m->n; i++) {
		c->e[i].key = blob_ref(m->e[i].key);
		c->e[i].val = blob_ref(m->e[i].val);
	}
	return c;
}

size_t kvm_lower_bound(const kvmodel *m, const void *key, size_t klen)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (kvm_keycmp(m->e[mid].key->bytes, m->e[mid].key->len, key, klen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t kvm_upper_bound(const kvmodel *m, const void *key, size_t klen)
{
	size_t i = kvm_lower_bound(m, key, klen);
	if (i < m->n && kvm_keycmp(m->e[i].key->bytes, m->e[i].key->len, key, klen) == 0)
		i++;
	return i;
}

/* Index of key, or SIZE_MAX. */
static size_t find(const kvmodel *m, const void *key, size_t klen)
{
	size_t i = kvm_lower_bound(m, key, klen);
	if (i < m->n && kvm_keycmp(m->e[i].key->bytes, m->e[i].key->len, key, klen) == 0)
		return i;
	return SIZE_MAX;
}

void kvm_put(kvmodel *m, const void *key, size_t klen, const void *val, size_t vlen)
{
	size_t i = kvm_lower_bound(m, key, klen);
	if (i < m->n && kvm_keycmp(m->e[i].key->bytes, m->e[i].key->len, key, klen) == 0) {
		blob_unref(m->e[i].val);
		m->e[i].val = blob_new(val, vlen);
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->e = realloc(m->e, m->cap * sizeof(entry));
		if (!m->e)
			abort();
	}
	memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(entry));
	m->e[i].key = blob_new(key, klen);
	m->e[i].val = blob_new(val, vlen);
	m->n++;
}

void kvm_delete(kvmodel *m, const void *key, size_t klen)
{
	size_t i = find(m, key, klen);
	if (i == SIZE_MAX)
		return;
	blob_unref(m->e[i].key);
	blob_unref(m->e[i].val);
	memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof(entry));
	m->n--;
}

int kvm_get(const kvmodel *m, const void *key, size_t klen, const void **val, size_t *vlen)
{
	size_t i = find(m, key, klen);
	if (i == SIZE_MAX)
		return 0;
	*val = m->e[i].val->bytes;
	*vlen = m->e[i].val->len;
	return 1;
}

size_t kvm_count(const kvmodel *m)
{
	return m->n;
}

void kvm_at(const kvmodel *m, size_t i, const void **key, size_t *klen, const void **val,
	    size_t *vlen)
{
	assert(i < m->n);
	*key = m->e[i].key->bytes;
	*klen = m->e[i].key->len;
	*val = m->e[i].val->bytes;
	*vlen = m->e[i].val->len;
}
