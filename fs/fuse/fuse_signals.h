/*
 * fuse_signals.h — SIGHUP, SIGINT and SIGTERM end the daemon's session
 * loop, without the race that can lose one.
 *
 * libfuse 3.14's fuse_session_loop_mt() tests the session's exit flag and
 * then sleeps in sem_wait() until a worker posts: a termination signal
 * whose handler runs between the test and the sleep sets the flag, but
 * nothing wakes the loop, and the daemon hangs until the next request
 * (tests/mounted/crash.sh caught it by signalling right after a mount).
 * Here the handler also posts a semaphore of ours; a helper thread waiting
 * on it signals the main thread again every 50 ms until the loop has
 * returned: sem_wait() is never restarted after a handler, so the loop
 * wakes, sees the flag and ends.
 */
#ifndef LSMFS_FUSE_SIGNALS_H
#define LSMFS_FUSE_SIGNALS_H

#include "fuse_ops.h" /* FUSE_USE_VERSION and fuse_lowlevel.h */

/*
 * From the thread that will run the session loop, with the termination
 * signals blocked (the helper thread inherits the mask, so the signals
 * reach only the loop's thread): installs the handlers (and ignores
 * SIGPIPE, as libfuse's own handlers do) and starts the helper. 0 or -1.
 */
int fsig_start(struct fuse_session *se);
/* After the loop returned: stops and joins the helper. */
void fsig_loop_done(void);
/* Restores the default actions. */
void fsig_stop(void);

#endif
