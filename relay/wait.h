/*
 * wait.h - deadlines and bounded waits for the relay
 *
 * DESCRIPTION
 *	Every wait in the relay has an end. Times are CLOCK_MONOTONIC
 *	milliseconds (relay_now_ms()); a deadline is such a time, fixed once
 *	per connection (now + MTASTS_TIMEOUT) for everything before the
 *	verdict.
 *
 *	relay_wait_fd() polls one fd for events until the deadline, across
 *	EINTR. It returns the revents seen (> 0), 0 when the deadline has
 *	passed, or -errno. POLLERR, POLLHUP and POLLNVAL count as an event:
 *	the caller's next read or write tells what happened.
 *
 *	relay_ms_left() is what remains of a deadline, 0 once it passed,
 *	capped at INT_MAX for poll().
 */
#ifndef RELAY_WAIT_H
#define RELAY_WAIT_H

#include <stdint.h>

int64_t relay_now_ms(void);
int relay_ms_left(int64_t deadline);
int relay_wait_fd(int fd, short events, int64_t deadline);
/* Sets O_NONBLOCK on fd. 0 or -errno. */
int relay_set_nonblock(int fd);

#endif
