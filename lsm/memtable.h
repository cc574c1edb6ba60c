/*
 * memtable.h — the in-memory sorted table: a skiplist of internal keys in
 * an arena.
 *
 * One writer at a time (the db serialises writes), any number of readers
 * with no lock: nodes are published with release stores and read with
 * acquire loads, and nothing is freed until the memtable is.
 * Reference counted: the db, flushes and iterators each hold a reference.
 */
#ifndef LSM_MEMTABLE_H
#define LSM_MEMTABLE_H

#include "iter.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lsm_memtable lsm_memtable;

/* New empty memtable with one reference. NULL when out of memory. */
lsm_memtable *lsm_memtable_new(void);
void lsm_memtable_ref(lsm_memtable *m);
void lsm_memtable_unref(lsm_memtable *m);

/*
 * Adds (key, seq, type) -> value. REQUIRES: external write serialisation;
 * (key, seq) not already present. -ENOMEM when out of memory.
 */
int lsm_memtable_add(lsm_memtable *m, uint64_t seq, int type, lsm_slice key, lsm_slice value);

/*
 * Finds the newest entry for key with sequence <= seq.
 * Returns 1 and *type, *value (pointing into the memtable, valid while a
 * reference is held) if there is one, else 0.
 */
int lsm_memtable_get(lsm_memtable *m, lsm_slice key, uint64_t seq, int *type, lsm_slice *value);

/* Approximate bytes used (arena). Any thread. */
size_t lsm_memtable_bytes(const lsm_memtable *m);
/* Number of entries added. */
uint64_t lsm_memtable_count(const lsm_memtable *m);

/*
 * An iterator over internal keys, holding a reference to m until destroyed.
 * Sees entries added after its creation too (callers filter by sequence).
 * NULL when out of memory.
 */
lsm_it *lsm_memtable_iter(lsm_memtable *m);

#endif
