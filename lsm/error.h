/*
 * error.h — the one error space of liblsm.
 *
 * Codes are negative: -errno or -LSM_E*. A failing function records a
 * detailed message in a thread-local buffer with lsm_seterr() and returns
 * the code; lsm_errmsg() reads it back. Every corruption goes through
 * LSM_CORRUPT so one breakpoint on lsm_corrupt_at catches them all.
 */
#ifndef LSM_ERROR_H
#define LSM_ERROR_H

#include "lsm.h"

#include <errno.h>
#include <stdint.h>

/* Records a message for lsm_errmsg() and returns code unchanged. */
int lsm_seterr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records "file at offset: message" as a corruption; returns -LSM_ECORRUPT. */
int lsm_corrupt_at(const char *file, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Empties this thread's message. The background thread does so before each
 * job, so a failure that records no message of its own is not described
 * with an older failure's.
 */
void lsm_clearerr(void);

#define LSM_CORRUPT(file, offset, ...) lsm_corrupt_at((file), (offset), __VA_ARGS__)

#endif
