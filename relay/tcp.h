/*
 * tcp.h - the relay's TCP leg: the application's own socket, connected
 *
 * DESCRIPTION
 *	relay_dest_parse() turns the --dest text (numeric IPv4 or IPv6, as
 *	relay_proto.h promises) and --port into an address for the socket fd
 *	the shim handed over: an IPv4 destination becomes a v4-mapped IPv6
 *	address when the socket is AF_INET6 (the shim passes v4-mapped
 *	addresses as IPv4). An IPv6 destination on an AF_INET socket, or a
 *	fd that is not a TCP socket, is refused.
 *
 *	relay_tcp_connect_start() sets O_NONBLOCK (the application's socket
 *	may be blocking or not; from here on the socket is ours) and starts
 *	connect(); relay_tcp_connect_finish() waits for it until the
 *	deadline. Both return 0 or -errno with the errno the real connect()
 *	reported (ECONNREFUSED, ENETUNREACH, EHOSTUNREACH...) or ETIMEDOUT
 *	when the deadline passed first.
 *
 *	relay_tcp_reopen() replaces fd (same number, same family) with a
 *	fresh socket bound to the first leg's local address (port 0: only
 *	the IP the application chose or the kernel picked carries over) and
 *	starts its connect() to d; finish it with relay_tcp_connect_finish().
 *	It is the plaintext retry after a failed TLS handshake (session.c):
 *	the first socket is dead then, and a TCP socket connects only once.
 *	Socket options the application set on its own socket are lost.
 *	0 or -errno.
 */
#ifndef RELAY_TCP_H
#define RELAY_TCP_H

#include <stdint.h>
#include <sys/socket.h>

struct relay_dest {
	struct sockaddr_storage addr;	/* in the socket's family */
	socklen_t addr_len;
	unsigned short port;
};

/* 0 or -errno (EINVAL bad text, EAFNOSUPPORT family mismatch, ENOTSOCK). */
int relay_dest_parse(int fd, const char *text, unsigned short port,
		     struct relay_dest *out);
int relay_tcp_connect_start(int fd, const struct relay_dest *d);
int relay_tcp_connect_finish(int fd, int64_t deadline);
int relay_tcp_reopen(int fd, const struct sockaddr_storage *local,
		     socklen_t local_len, const struct relay_dest *d);

#endif
