/*
 * The one interruptible wait, for pg.c, redis.c and edit.c: poll one
 * descriptor until it is ready, a deadline passes or SIGINT/SIGTERM
 * arrives. The two signals are blocked from the check of vl_interrupted
 * until ppoll() unblocks them atomically, so one that arrives in between
 * is delivered inside ppoll (which then fails with EINTR) instead of
 * being lost until the descriptor wakes up, which for BLPOP k 0 is never.
 */
#define _GNU_SOURCE		/* ppoll before POSIX.1-2024 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "venueless.h"

/* Seconds on the monotonic clock. */
double
vl_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The time left until deadline in ts; NULL for no deadline. */
static struct timespec *
aux_left(double deadline, struct timespec *ts)
{
	double	 left;

	if (deadline <= 0)
		return NULL;
	if ((left = deadline - vl_now()) < 0)
		left = 0;
	ts->tv_sec = (time_t)left;
	ts->tv_nsec = (long)((left - (double)ts->tv_sec) * 1e9);
	return ts;
}

/*
 * One ppoll with SIGINT and SIGTERM blocked around it: ppoll's result,
 * or VL_WAIT_INTR if a signal came before. errno survives the unblock.
 */
static int
aux_wait1(struct pollfd *pfd, double deadline, int flags)
{
	sigset_t	 block, old;
	struct timespec	 ts;
	int		 r, saved;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (!(flags & VL_WAIT_NOINTR) && vl_interrupted)
		r = VL_WAIT_INTR;
	else
		r = ppoll(pfd, 1, aux_left(deadline, &ts), &old);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return r;
}

/*
 * Wait for events on fd until deadline (monotonic seconds as vl_now
 * gives them, 0 for none). Returns poll's revents (> 0) when ready, or a
 * negative enum vl_wait, or VL_WAIT_TIMEOUT (0). flags: VL_WAIT_NOINTR
 * ignores vl_interrupted (a deadline should then be given);
 * VL_WAIT_SIGNALS returns VL_WAIT_SIGNAL when another signal's handler
 * ran, so the caller can act on the flags it set.
 */
int
vl_wait_fd(int fd, int events, double deadline, int flags)
{
	struct pollfd	 pfd;
	int		 r;

	if (fd < 0) {
		errno = EBADF;
		return VL_WAIT_ERROR;
	}
	pfd.fd = fd;
	pfd.events = (short)events;
	for (;;) {
		pfd.revents = 0;
		if ((r = aux_wait1(&pfd, deadline, flags)) > 0)
			return pfd.revents;
		if (r == 0 || r == VL_WAIT_INTR)
			return r;
		if (errno != EINTR)
			return VL_WAIT_ERROR;
		if (!(flags & VL_WAIT_NOINTR) && vl_interrupted)
			return VL_WAIT_INTR;
		if (flags & VL_WAIT_SIGNALS)
			return VL_WAIT_SIGNAL;
	}
}
