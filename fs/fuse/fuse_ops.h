/*
 * fuse_ops.h — what the daemon's main (fuse_main.c) and its request
 * handlers (fuse_ops.c) share. The handlers only decode a kernel request,
 * call the fs core (lsmfs.h) and reply; everything they need lives in one
 * struct fsop_state, the session's userdata.
 */
#ifndef LSMFS_FUSE_OPS_H
#define LSMFS_FUSE_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include "fs/lsmfs.h"

struct fsop_state {
	lsmfs *fs;	  /* immutable after mount */
	double timeout;	  /* entry and attribute validity in seconds: we are the only writer */
	int read_only;	  /* mounted -o ro: no writeback cache is asked for */
	int no_writeback; /* -o writeback=off: none is asked for either */
	int writeback;	  /* the kernel's writeback cache is on: set in init, before any request */
	struct fuse_session *se; /* for notifications: set before the session loop */
};

/* The table of fsop_* handlers given to fuse_session_new(). */
extern const struct fuse_lowlevel_ops fsop_table;

#endif /* LSMFS_FUSE_OPS_H */
