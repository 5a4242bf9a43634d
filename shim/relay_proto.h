/*
 * relay_proto.h - the contract between libmtasts.so and mtasts-relay
 *
 * DESCRIPTION
 *	For each intercepted connect(fd, dest) (or MSG_FASTOPEN send) the shim starts one relay
 *	process (never a child the host can see: see shim/spawn.c) with
 *
 *	  fd MTS_RELAY_TCP_FD  a dup of the application's own, unconnected
 *	                       TCP socket: the relay connects it to dest, so
 *	                       a bind() or socket options the application set
 *	                       still apply;
 *	  fd MTS_RELAY_APP_FD  the relay's end of the application's channel:
 *	                       a TCP connection over loopback of the
 *	                       application socket's own family (127.0.0.1
 *	                       for AF_INET, ::1 for AF_INET6), accepted by
 *	                       the shim and checked to come from its own
 *	                       client end, which will replace the
 *	                       application's fd; so a process without the
 *	                       shim that inherits the fd (a set-user-ID
 *	                       helper, "exim -MC") sees a real TCP socket.
 *	                       When loopback TCP is unusable (no ::1, no
 *	                       fds...), an AF_UNIX SOCK_STREAM socketpair
 *	                       instead (shim/loopback.c). Both ends have
 *	                       TCP_NODELAY; the relay must treat the channel
 *	                       as a byte stream either way (no POLLHUP on a
 *	                       TCP peer's close: a FIN reads as EOF);
 *	  fds 0-2              /dev/null (the relay logs through its own sink);
 *	  argv                 mtasts-relay --dest ADDR --port N
 *	                         [--mx HOST] [--domain DOMAIN]
 *	                       ADDR numeric IPv4 or IPv6 (v4-mapped addresses
 *	                       are passed as IPv4), HOST the MX host name the
 *	                       shim learnt from the process's look-ups, DOMAIN
 *	                       the recipient domain (MTASTS_DOMAIN, or learnt);
 *	  environment          the host's (MTASTS_* configure it), with
 *	                       libmtasts.so taken out of LD_PRELOAD.
 *
 *	The relay decides, then writes exactly one struct mts_verdict on
 *	MTS_RELAY_APP_FD, before any SMTP byte. The channel has no message
 *	boundaries: the shim reads exactly sizeof(struct mts_verdict)
 *	bytes (looping on short reads), never a byte beyond:
 *
 *	  MTS_VERDICT_RELAY    allowed: the stream that follows on the channel is
 *	                       the SMTP session (starting with the server's
 *	                       greeting), relayed over TLS or plaintext. local
 *	                       holds getsockname() of the real TCP leg.
 *	  MTS_VERDICT_REFUSE   refused or failed: connect() must fail with
 *	                       errno = error (ECONNREFUSED for a policy
 *	                       refusal, ETIMEDOUT, ENETUNREACH, ... for network
 *	                       errors as the real connect reported them).
 *	  MTS_VERDICT_HANDOFF  no relay wanted (MTASTS_FALLBACK=none and no
 *	                       policy): the relay has not touched the socket;
 *	                       the shim performs the real connect() itself.
 *
 *	If the shim reads EOF, a short or malformed verdict, or nothing
 *	within its deadline, connect() fails closed (ECONNREFUSED, or
 *	ETIMEDOUT on timeout), and the relay is left to exit on its own when
 *	it finds its end of the channel closed.
 */
#ifndef MTS_RELAY_PROTO_H
#define MTS_RELAY_PROTO_H

#include <stdint.h>
#include <sys/socket.h>

#define MTS_RELAY_TCP_FD 3
#define MTS_RELAY_APP_FD 4

#define MTS_VERDICT_MAGIC 0x5653544dU	/* "MTSV" little-endian */
#define MTS_VERDICT_VERSION 1

enum mts_verdict_action {
	MTS_VERDICT_RELAY = 1,
	MTS_VERDICT_REFUSE = 2,
	MTS_VERDICT_HANDOFF = 3,
};

struct mts_verdict {
	uint32_t magic;
	uint32_t version;
	int32_t action;			/* enum mts_verdict_action */
	int32_t error;			/* errno for MTS_VERDICT_REFUSE */
	uint32_t local_len;		/* bytes of local used */
	struct sockaddr_storage local;
};

#endif
