/* error.c — error names and the thread-local detailed message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char errmsg_buf[1024];

int lsm_seterr(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg_buf, sizeof(errmsg_buf), fmt, ap);
	va_end(ap);
	return code;
}

int lsm_corrupt_at(const char *file, uint64_t offset, const char *fmt, ...)
{
	int n = snprintf(errmsg_buf, sizeof(errmsg_buf),
			 "corruption in %s at offset %llu: ", file ? file : "?",
			 (unsigned long long)offset);
	if (n > 0 && (size_t)n < sizeof(errmsg_buf)) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg_buf + n, sizeof(errmsg_buf) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -LSM_ECORRUPT;
}

void lsm_clearerr(void)
{
	errmsg_buf[0] = '\0';
}

const char *lsm_errmsg(void)
{
	return errmsg_buf;
}

const char *lsm_strerror(int code)
{
	if (code < 0)
		code = -code;
	switch (code) {
	case 0:
		return "success";
	case LSM_NOTFOUND:
		return "not found";
	case LSM_ECORRUPT:
		return "corruption";
	case LSM_EBUSY:
		return "database in use by another process";
	case LSM_EREADONLY:
		return "database is read-only after a background error";
	case LSM_ENOTDB:
		return "no database in directory";
	case LSM_EEXIST:
		return "database already exists";
	case LSM_EVERSION:
		return "unsupported format version";
	}
	if (code < LSM_ECORRUPT)
		return strerror(code); /* glibc's table is static and thread-safe */
	return "unknown error";
}
