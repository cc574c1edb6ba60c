/*
 * fuse_killpriv.h — FUSE_HANDLE_KILLPRIV_V2 under a libfuse that does not
 * know it (fuse_killpriv.c says why and how).
 */
#ifndef LSMFS_FUSE_KILLPRIV_H
#define LSMFS_FUSE_KILLPRIV_H

#include "fuse_ops.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

/*
 * Routes the mounted session's reads and writes of /dev/fuse through the
 * code that offers the flag in the INIT reply (enable 0: through plain
 * read and writev, offering nothing). Call after fuse_session_mount and
 * before the session loop. 0, or -1 (libfuse refused; the session stays
 * as it was).
 */
int fkp_install(struct fuse_session *se, int enable);

/* After INIT: 1 if the kernel was told the daemon handles KILLPRIV_V2. */
int fkp_active(void);

#endif
