/*
 * fuse_killpriv.c — negotiates FUSE_HANDLE_KILLPRIV_V2 underneath libfuse.
 *
 * Without that flag the kernel asks the daemon for the security.capability
 * xattr before each write, to see whether the write must drop privileges:
 * one more round trip per write, which makes a small write + fsync three
 * round trips instead of two. (passthrough_ll avoids it by answering every
 * getxattr with ENOSYS, which a filesystem that keeps xattrs cannot.) With
 * the flag the kernel marks the filesystem SB_NOSEC: once a write found
 * nothing to drop on an inode, it stops asking until a security xattr or a
 * set-id mode is set again; and dropping set-user-ID and set-group-ID on
 * write, truncate and chown becomes the daemon's job, which the fs core
 * does (fs/data.c kill_suid, lsmfs_setattr). The capability xattr is still
 * removed by the kernel, on the first write and on truncate.
 *
 * libfuse 3.14 (Debian 12) does not know the flag, so it can neither
 * offer it nor be asked for it. The daemon does its reads and writes of
 * /dev/fuse itself (fuse_io.c): fkp_request notes the kernel's INIT request
 * and whether the kernel offers the flag, and fkp_reply adds the flag to
 * libfuse's INIT reply when it does. Every other request and reply passes
 * untouched. Once libfuse has FUSE_CAP_HANDLE_KILLPRIV_V2, fuse_ops.c asks
 * for it there and this file goes.
 */
#include "fuse_killpriv.h"

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* One session per daemon; reads and replies run on several threads: __atomic. */
enum { INIT_NOT_SEEN, INIT_SEEN, INIT_ANSWERED };
static int fkp_enabled;	     /* set before the session loop starts */
static int init_state;	     /* INIT_*; init_unique and offered are set before INIT_SEEN */
static uint64_t init_unique; /* the INIT request's unique */
static int offered;	     /* the kernel's INIT offered KILLPRIV_V2 */
static int active;	     /* the reply took it */

void fkp_request(const void *buf, ssize_t n)
{
	struct fuse_in_header h;
	struct fuse_init_in in;

	if (n < (ssize_t)(sizeof(h) + offsetof(struct fuse_init_in, flags2)) ||
	    __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != INIT_NOT_SEEN)
		return;
	memcpy(&h, buf, sizeof(h));
	if (h.opcode != FUSE_INIT)
		return;
	memset(&in, 0, sizeof(in));
	memcpy(&in, (const char *)buf + sizeof(h),
	       (size_t)n - sizeof(h) < sizeof(in) ? (size_t)n - sizeof(h) : sizeof(in));
	offered = (in.flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
	init_unique = h.unique;
	__atomic_store_n(&init_state, INIT_SEEN, __ATOMIC_RELEASE);
}

void fkp_reply(struct iovec *iov, int count)
{
	struct fuse_out_header h;

	/* libfuse sends a reply as the header, then its argument: for INIT, fuse_init_out. */
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == INIT_SEEN && count >= 2 &&
	    iov[0].iov_len >= sizeof(h) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, max_background)) {
		memcpy(&h, iov[0].iov_base, sizeof(h));
		if (h.unique == init_unique) {
			struct fuse_init_out *out = iov[1].iov_base;

			if (h.error == 0 && offered && fkp_enabled) {
				out->flags |= FUSE_HANDLE_KILLPRIV_V2;
				__atomic_store_n(&active, 1, __ATOMIC_RELAXED);
			}
			__atomic_store_n(&init_state, INIT_ANSWERED, __ATOMIC_RELEASE);
		}
	}
}

void fkp_enable(int enable)
{
	fkp_enabled = enable;
}

int fkp_active(void)
{
	return __atomic_load_n(&active, __ATOMIC_RELAXED);
}
