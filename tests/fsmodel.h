/*
 * fsmodel.h — a small in-memory POSIX tree: the reference the fs core is
 * compared with under random operations. Nodes are numbered; node 0 is the
 * root. Every operation returns 0 / a node number or the negative errno a
 * POSIX filesystem (ext4) gives, checked in the same order as lsmfs does.
 */
#ifndef LSMFS_FSMODEL_H
#define LSMFS_FSMODEL_H

#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

enum { FM_FILE = 1, FM_DIR, FM_LINK };

typedef struct fm_ent {
	char *name;
	int node;
} fm_ent;

typedef struct fm_node {
	int type; /* FM_*, 0 once freed */
	int nlink;
	int parent;    /* directories: the containing directory */
	uint64_t ino;  /* the inode number the fs gave it */
	uint8_t *data; /* files: contents */
	size_t size, cap;
	fm_ent *ents; /* directories: entries in no particular order */
	int nents, entcap;
} fm_node;

typedef struct fsmodel {
	fm_node *nodes;
	int n, cap;
} fsmodel;

void fm_init(fsmodel *m);
void fm_free(fsmodel *m);
/* The node an entry names, or -ENOENT. */
int fm_lookup(const fsmodel *m, int dir, const char *name);
/* Creates a file, directory or symlink; returns the new node or -errno. */
int fm_create(fsmodel *m, int dir, const char *name, int type);
int fm_unlink(fsmodel *m, int dir, const char *name);
int fm_rmdir(fsmodel *m, int dir, const char *name);
int fm_link(fsmodel *m, int node, int dir, const char *name);
/* flags: LSMFS_RENAME_NOREPLACE / LSMFS_RENAME_EXCHANGE. */
int fm_rename(fsmodel *m, int dir, const char *name, int ndir, const char *nname, unsigned flags);
int fm_write(fsmodel *m, int node, uint64_t off, const void *buf, size_t n);
int fm_truncate(fsmodel *m, int node, uint64_t size);
/* A live node of the given type (0: any) drawn from r; -1 if none (then r is not used). */
int fm_pick(const fsmodel *m, tu_rng *r, int type);
/* Number of subdirectories + 2 for a directory, link count otherwise. */
int fm_nlink(const fsmodel *m, int node);

#endif
