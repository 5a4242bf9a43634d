/*
 * verdict.c - the one message the relay sends the shim (relay_proto.h)
 *
 * DESCRIPTION
 *	See verdict.h. The struct goes out in native byte order: both ends
 *	run on the same machine, from the same build.
 */
#include "verdict.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "wait.h"

int relay_verdict_send(int app_fd, enum mts_verdict_action action, int error,
		       int tcp_fd, int64_t deadline)
{
	struct mts_verdict v;
	const char *p = (const char *)&v;
	size_t off = 0;

	memset(&v, 0, sizeof(v));
	v.magic = MTS_VERDICT_MAGIC;
	v.version = MTS_VERDICT_VERSION;
	v.action = (int32_t)action;
	v.error = action == MTS_VERDICT_REFUSE ? error : 0;
	if (action == MTS_VERDICT_RELAY && tcp_fd >= 0) {
		socklen_t len = sizeof(v.local);

		if (getsockname(tcp_fd, (struct sockaddr *)&v.local, &len) == 0 &&
		    len <= sizeof(v.local))
			v.local_len = len;
		else
			memset(&v.local, 0, sizeof(v.local));
	}
	while (off < sizeof(v)) {
		ssize_t n = send(app_fd, p + off, sizeof(v) - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		int ev;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ev = relay_wait_fd(app_fd, POLLOUT, deadline);
		if (ev == 0)
			return -ETIMEDOUT;
		if (ev < 0)
			return ev;
	}
	return 0;
}
