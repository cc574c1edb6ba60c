/*
 * kvmodel.h — the reference the engine is checked against: an in-memory
 * sorted map from byte-string keys to byte-string values, ordered exactly as
 * lsm.h orders keys (memcmp, shorter first on a tie).
 *
 * It is a sorted array of entries, searched by binary search, so that it is
 * obviously right rather than fast. Keys and values are immutable,
 * reference-counted blobs, which makes kvm_clone() (a frozen copy for a
 * snapshot or an iterator) cost one pointer copy per entry and no byte copies.
 *
 * Not thread-safe: a model and its clones belong to one thread.
 */
#ifndef LSM_TESTS_KVMODEL_H
#define LSM_TESTS_KVMODEL_H

#include <stddef.h>

typedef struct kvmodel kvmodel;

/* The order of lsm.h: memcmp over the common length, then the shorter first. */
int kvm_keycmp(const void *a, size_t alen, const void *b, size_t blen);

kvmodel *kvm_new(void);
void kvm_free(kvmodel *m);
/* A copy that later changes to m do not affect (and vice versa). */
kvmodel *kvm_clone(const kvmodel *m);

/* Inserts or replaces; key and value are copied. */
void kvm_put(kvmodel *m, const void *key, size_t klen, const void *val, size_t vlen);
/* Removes key if present. */
void kvm_delete(kvmodel *m, const void *key, size_t klen);
/*
 * 1 and the value in *val, *vlen (owned by the model, valid until the entry changes) if key
 * is present, else 0.
 */
int kvm_get(const kvmodel *m, const void *key, size_t klen, const void **val, size_t *vlen);

/* Number of keys. */
size_t kvm_count(const kvmodel *m);
/* Index of the first key >= key (kvm_count() if none). */
size_t kvm_lower_bound(const kvmodel *m, const void *key, size_t klen);
/* Index of the first key > key (kvm_count() if none). */
size_t kvm_upper_bound(const kvmodel *m, const void *key, size_t klen);
/* The entry at index i < kvm_count(); pointers owned by the model. */
void kvm_at(const kvmodel *m, size_t i, const void **key, size_t *klen, const void **val,
	    size_t *vlen);

#endif
