/*
 * verdict.h - the one message the relay sends the shim (relay_proto.h)
 *
 * DESCRIPTION
 *	relay_verdict_send() writes exactly one struct mts_verdict on the
 *	application's end of the pair, before any byte of the SMTP session.
 *	For MTS_VERDICT_RELAY, local is getsockname() of tcp_fd (the real
 *	TCP leg), so the application's getsockname() tells the truth.
 *	Waits at most until the deadline (the pair is fresh: in practice
 *	the write never waits).
 *
 * RETURN VALUE
 *	0, or -errno: -EPIPE when the shim has already gone (it gave up
 *	waiting, or the application died), -ETIMEDOUT.
 */
#ifndef RELAY_VERDICT_H
#define RELAY_VERDICT_H

#include <stdint.h>

#include "../shim/relay_proto.h"

int relay_verdict_send(int app_fd, enum mts_verdict_action action, int error,
		       int tcp_fd, int64_t deadline);

#endif
