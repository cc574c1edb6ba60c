/*
 * blob_use.h — which value files a table refers to, and how much.
 *
 * Each table's meta carries one entry per value file its blob references
 * point into (version.h). Summed over the tables of the versions still in
 * use, they say which value files must stay and how many of their bytes
 * are live; the rest of a file is garbage.
 */
#ifndef LSM_BLOB_USE_H
#define LSM_BLOB_USE_H

#include <stdint.h>

typedef struct lsm_blob_use {
	uint64_t file;	/* value file number */
	uint64_t bytes; /* value bytes of this table's references into it */
} lsm_blob_use;

/* A growable set of uses, kept sorted by file. */
typedef struct lsm_blob_uses {
	lsm_blob_use *v;
	int n, cap;
	int last; /* index of the last file added to: consecutive values often share one */
} lsm_blob_uses;

static inline void lsm_blob_uses_init(lsm_blob_uses *u)
{
	u->v = 0;
	u->n = u->cap = u->last = 0;
}
void lsm_blob_uses_free(lsm_blob_uses *u);
/* Adds bytes to file's entry (creating it). 0 or -ENOMEM. */
int lsm_blob_uses_add(lsm_blob_uses *u, uint64_t file, uint64_t bytes);

#endif
