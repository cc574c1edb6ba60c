/*
 * fuse_stats.h — what the running daemon counts (FUSE requests by opcode
 * with their latencies, bytes read and written, the engine's figures) and
 * the socket that hands it to lsmfs-stat. fuse_stats.c says how.
 */
#ifndef LSMFS_FUSE_STATS_H
#define LSMFS_FUSE_STATS_H

#include <sys/types.h>
#include <sys/uio.h>

#include "fs/lsmfs.h"

/* The socket's name in the data directory, beside the engine's LOCK. */
#define FST_SOCKET "stat.sock"

/* fuse_io.c: a request of n bytes read from /dev/fuse, and a reply about to go. */
void fst_request(const void *buf, ssize_t n);
void fst_reply(const struct iovec *iov, int count);

/*
 * Starts the thread that serves snapshots on DATA_DIR/stat.sock (fs gives
 * the engine's figures). 0, or -1 with a message printed: the daemon then
 * runs without the socket (a read-only data dir, say), counting anyway.
 */
int fst_start(lsmfs *fs, const char *data_dir);
/* Stops that thread and removes the socket; nothing if it was not started. */
void fst_stop(void);

#endif
