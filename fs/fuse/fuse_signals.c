/*
 * fuse_signals.c — termination signals that always end the session loop
 * (see fuse_signals.h for the race this closes).
 */
#include "config.h"

#include "fuse_signals.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const int stop_signals[] = {SIGHUP, SIGINT, SIGTERM};

static struct fuse_session *stop_session;
static sem_t stop_sem;
static pthread_t loop_thread, nudger;
static int nudger_running, sem_ready;
static volatile sig_atomic_t stop_signal; /* the last termination signal, 0: none */
static int loop_done;			  /* atomic */

/* Async-signal-safe: a flag store and sem_post. */
static void on_stop_signal(int sig)
{
	fuse_session_exit(stop_session);
	stop_signal = sig;
	sem_post(&stop_sem);
}

static void *nudge_loop_thread(void *arg)
{
	const struct timespec period = {0, 50 * 1000 * 1000};

	(void)arg;
	while (sem_wait(&stop_sem) != 0 && errno == EINTR)
		;
	while (!__atomic_load_n(&loop_done, __ATOMIC_ACQUIRE)) {
		pthread_kill(loop_thread, stop_signal ? stop_signal : SIGTERM);
		nanosleep(&period, NULL);
	}
	return NULL;
}

static int set_action(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0) {
		fprintf(stderr, "lsmfs: sigaction %d: %s\n", sig, strerror(errno));
		return -1;
	}
	return 0;
}

int fsig_start(struct fuse_session *se)
{
	stop_session = se;
	loop_thread = pthread_self();
	stop_signal = 0;
	__atomic_store_n(&loop_done, 0, __ATOMIC_RELEASE);
	if (sem_init(&stop_sem, 0, 0) != 0) {
		fprintf(stderr, "lsmfs: sem_init: %s\n", strerror(errno));
		return -1;
	}
	sem_ready = 1;
	if (set_action(SIGPIPE, SIG_IGN) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		if (set_action(stop_signals[i], on_stop_signal) != 0)
			return -1;
	int rc = pthread_create(&nudger, NULL, nudge_loop_thread, NULL);
	if (rc != 0) {
		fprintf(stderr, "lsmfs: cannot start a thread: %s\n", strerror(rc));
		return -1;
	}
	nudger_running = 1;
	return 0;
}

void fsig_loop_done(void)
{
	__atomic_store_n(&loop_done, 1, __ATOMIC_RELEASE);
	if (!nudger_running)
		return;
	sem_post(&stop_sem); /* in case no signal ever came */
	pthread_join(nudger, NULL);
	nudger_running = 0;
}

void fsig_stop(void)
{
	fsig_loop_done();
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		(void)set_action(stop_signals[i], SIG_DFL);
	if (sem_ready)
		sem_destroy(&stop_sem);
	sem_ready = 0;
}
