/*
 * fuse_killpriv.h — FUSE_HANDLE_KILLPRIV_V2 under a libfuse that does not
 * know it (fuse_killpriv.c says why and how).
 */
#ifndef LSMFS_FUSE_KILLPRIV_H
#define LSMFS_FUSE_KILLPRIV_H

#include "fuse_ops.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

#include <sys/types.h>
#include <sys/uio.h>

/* Whether to take the flag when the kernel offers it: before the session loop. */
void fkp_enable(int enable);
/* fuse_io.c: a request of n bytes read from /dev/fuse, and a reply about to go. */
void fkp_request(const void *buf, ssize_t n);
void fkp_reply(struct iovec *iov, int count);

/* After INIT: 1 if the kernel was told the daemon handles KILLPRIV_V2. */
int fkp_active(void);

#endif
