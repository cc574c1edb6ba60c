/*
 * fuse_io.c — reads requests from and writes replies to /dev/fuse for
 * libfuse (fuse_session_custom_io), handing each to the two parts of the
 * daemon that must see the raw protocol: the KILLPRIV_V2 negotiation
 * (fuse_killpriv.c) and the request statistics (fuse_stats.c). Bytes pass
 * as they are, but for the one flag the former adds to the INIT reply.
 */
#include "fuse_io.h"

#include <sys/uio.h>
#include <unistd.h>

#include "fuse_killpriv.h"
#include "fuse_stats.h"

static ssize_t fio_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0) {
		fkp_request(buf, n);
		fst_request(buf, n);
	}
	return n;
}

static ssize_t fio_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	fkp_reply(iov, count);
	fst_reply(iov, count);
	return writev(fd, iov, count);
}

int fio_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {.read = fio_read, .writev = fio_writev};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0 ? 0 : -1;
}
