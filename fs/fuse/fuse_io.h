/*
 * fuse_io.h — the daemon's own reads and writes of /dev/fuse, through
 * libfuse's custom I/O hook, so that the killpriv negotiation and the
 * request statistics see every request and reply.
 */
#ifndef LSMFS_FUSE_IO_H
#define LSMFS_FUSE_IO_H

#include "fuse_ops.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

/*
 * Routes the mounted session's requests and replies through fuse_io.c.
 * Call after fuse_session_mount and before the session loop. 0, or -1
 * (libfuse refused; the session stays as it was).
 */
int fio_install(struct fuse_session *se);

#endif
