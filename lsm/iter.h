/*
 * iter.h — the internal iterator interface every layer implements
 * (memtable, block, table, merging, level), so they stack.
 *
 * Keys are internal keys (dbformat.h) except where a user says otherwise.
 * key()/value() are valid until the iterator moves or is destroyed.
 * An iterator that meets an error becomes invalid and status() returns it.
 */
#ifndef LSM_ITER_H
#define LSM_ITER_H

#include "dbformat.h"

typedef struct lsm_it lsm_it;

typedef struct lsm_it_ops {
	int (*valid)(lsm_it *it);
	void (*seek_first)(lsm_it *it);
	void (*seek_last)(lsm_it *it);
	void (*seek)(lsm_it *it, lsm_slice target); /* first entry >= target */
	void (*next)(lsm_it *it);
	void (*prev)(lsm_it *it);
	lsm_slice (*key)(lsm_it *it);
	lsm_slice (*value)(lsm_it *it);
	int (*status)(lsm_it *it);
	void (*destroy)(lsm_it *it);
} lsm_it_ops;

struct lsm_it {
	const lsm_it_ops *ops;
};

static inline int lsm_it_valid(lsm_it *it)
{
	return it->ops->valid(it);
}
static inline void lsm_it_seek_first(lsm_it *it)
{
	it->ops->seek_first(it);
}
static inline void lsm_it_seek_last(lsm_it *it)
{
	it->ops->seek_last(it);
}
static inline void lsm_it_seek(lsm_it *it, lsm_slice t)
{
	it->ops->seek(it, t);
}
static inline void lsm_it_next(lsm_it *it)
{
	it->ops->next(it);
}
static inline void lsm_it_prev(lsm_it *it)
{
	it->ops->prev(it);
}
static inline lsm_slice lsm_it_key(lsm_it *it)
{
	return it->ops->key(it);
}
static inline lsm_slice lsm_it_value(lsm_it *it)
{
	return it->ops->value(it);
}
static inline int lsm_it_status(lsm_it *it)
{
	return it->ops->status(it);
}
static inline void lsm_it_destroy(lsm_it *it)
{
	if (it)
		it->ops->destroy(it);
}

/* An iterator with nothing in it that reports status rc (0 for plain empty). */
lsm_it *lsm_it_empty(int rc);

/*
 * Merges n child iterators (taking ownership) into one sorted stream by
 * lsm_ikey_compare. Children must not yield equal internal keys. Supports
 * both directions. NULL on out of memory (children are then destroyed).
 * A child that turns invalid with an error makes the merge invalid too (it
 * never silently skips that child's keys) until the next seek; status()
 * returns the first non-zero child status. With n == 1 the child itself is
 * returned; with n == 0, lsm_it_empty(0).
 */
lsm_it *lsm_it_merging(lsm_it **children, int n);

#endif
