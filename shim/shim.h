/*
 * shim.h - internals shared by the files of libmtasts.so
 *
 * DESCRIPTION
 *	libmtasts.so is preloaded into an unmodified mail sender. It hands
 *	every TCP connect() to an SMTP port to a relay process (see
 *	relay_proto.h) and makes the file descriptor it gets back look like
 *	the TCP socket the application asked for. One file per hooked call
 *	(connect.c, close.c, ...); the machinery they share is here:
 *
 *	init.c      the real libc symbols (bound once), the configuration,
 *	            the per-thread re-entrancy guard, the fork handlers;
 *	connect.c   the worker every connection-opening hook shares
 *	            (connect, sendto.c's MSG_FASTOPEN, syscall.c);
 *	uring.c     io_uring refused where the shim enforces;
 *	exec.c      the warning before exec of a set-ID program;
 *	log.c       the opt-in one-line-per-event logger (MTASTS_LOG);
 *	fdtable.c   which fds are relayed connections, and what they emulate;
 *	names.c     what the process's own DNS look-ups taught us;
 *	dnsmsg.c    a small bounded DNS message parser;
 *	loopback.c  the loopback TCP connection the application gets;
 *	spawn.c     starting the relay without the host ever seeing a child.
 *
 *	Every public hook is a short wrapper: make sure the library is
 *	initialised, take the fast path to libc when the call is not ours,
 *	otherwise call the worker. Workers return 0 or a negative errno.
 *	docs/THREADING.md describes the locks and the guard.
 */
#ifndef MTS_SHIM_H
#define MTS_SHIM_H

#include <limits.h>
#include <netdb.h>
#include <resolv.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <spawn.h>

#ifndef __USE_GNU
#error "the shim is built with -D_GNU_SOURCE (transparent sockaddr unions)"
#endif

/* Symbols that the version script exports (everything else is hidden). */
#define MTS_EXPORT __attribute__((visibility("default")))

#ifndef MTS_RELAY_PATH
#define MTS_RELAY_PATH "/usr/local/libexec/mtasts/mtasts-relay"
#endif

/* ---- real symbols (init.c) ---------------------------------------- */

typedef int (*mts_res_query_fn)(const char *, int, int, unsigned char *, int);
typedef int (*mts_res_nquery_fn)(res_state, const char *, int, int,
				 unsigned char *, int);
typedef int (*mts_res_send_fn)(const unsigned char *, int, unsigned char *,
			       int);
typedef int (*mts_res_nsend_fn)(res_state, const unsigned char *, int,
				unsigned char *, int);

struct mts_real {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getaddrinfo)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	struct hostent *(*gethostbyname)(const char *);
	struct hostent *(*gethostbyname2)(const char *, int);
	int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t,
			       struct hostent **, int *);
	int (*gethostbyname2_r)(const char *, int, struct hostent *, char *,
				size_t, struct hostent **, int *);
	mts_res_query_fn res_query, res_search;
	mts_res_nquery_fn res_nquery, res_nsearch;
	mts_res_send_fn res_send;
	mts_res_nsend_fn res_nsend;
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned int, int);
	long (*syscall)(long, ...);
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execv)(const char *, char *const[]);
	int (*execvp)(const char *, char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*posix_spawn)(pid_t *, const char *,
			   const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[],
			   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *,
			    const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[],
			    char *const[]);
};

extern struct mts_real mts_real;

/* Binds the real symbols and reads the configuration, once; safe to call
 * from any hook at any time, also before the library's constructor. */
void mts_init(void);

/* Resolver symbols may live in a library loaded after us (libresolv on
 * older C libraries): bind them on first use. Returns NULL when absent. */
void *mts_real_resolver(const char *name);

/* Copies src into dst[size], truncating, always NUL-terminated (size > 0).
 * Returns strlen(src): a result >= size means truncation. The shim links
 * nothing of policy/, so it has its own copy of mts_strlcpy(). */
static inline size_t mts_scopy(char *dst, const char *src, size_t size)
{
	size_t n = 0, i;

	while (src[n] != '\0')
		n++;
	if (size > 0) {
		for (i = 0; i < n && i < size - 1; i++)
			dst[i] = src[i];
		dst[i] = '\0';
	}
	return n;
}

/* ---- configuration (init.c) ---------------------------------------- */

enum mts_log_sink { MTS_LOG_NONE, MTS_LOG_STDERR, MTS_LOG_SYSLOG,
		    MTS_LOG_FILE };

struct mts_config {
	uint8_t port[65536 / 8];	/* bitmap of intercepted ports */
	char relay[PATH_MAX];		/* MTASTS_RELAY or MTS_RELAY_PATH */
	char domain[256];		/* MTASTS_DOMAIN, "" when unset */
	int timeout;			/* MTASTS_TIMEOUT seconds */
	enum mts_log_sink log;		/* MTASTS_LOG */
	char log_path[PATH_MAX];
	int secure;			/* AT_SECURE: environment ignored */
	int active;			/* some port intercepted (not the relay) */
	int allow_io_uring;		/* MTASTS_ALLOW_IO_URING=1 */
};

extern struct mts_config mts_cfg;

static inline int mts_port_wanted(uint16_t port)
{
	return (mts_cfg.port[port >> 3] >> (port & 7)) & 1;
}

/* ---- re-entrancy guard (init.c) -------------------------------------
 * Non-zero while this thread is inside the shim's own critical work
 * (a table lock held, a real resolver call being recorded, fork in
 * progress): every hook then goes straight to libc. */
extern __thread int mts_in_shim __attribute__((tls_model("initial-exec")));

/* ---- logging (log.c) ------------------------------------------------ */

/* One line per event to the MTASTS_LOG sink; keeps errno. */
void mts_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- relayed connections (fdtable.c) -------------------------------- */

#define MTS_OPT_SLOTS 16

struct mts_opt {
	int level, name, value;
};

/* What a relayed fd emulates: the TCP socket the application created. */
struct mts_conn {
	dev_t dev;			/* the app's end: validates the fd */
	ino_t ino;
	int family;			/* AF_INET or AF_INET6 */
	int protocol;			/* IPPROTO_TCP */
	struct sockaddr_storage peer;	/* the original destination */
	socklen_t peer_len;
	struct sockaddr_storage local;	/* getsockname() of the relay's leg */
	socklen_t local_len;
	unsigned nopt;
	struct mts_opt opt[MTS_OPT_SLOTS];	/* TCP/IP options set */
};

/* Non-zero while any relayed connection exists (one atomic load). */
int mts_fd_live(void);
/* Records fd (already replaced, its dev/ino in c) as relayed. 0 or -errno. */
int mts_fd_insert(int fd, const struct mts_conn *c);
/* Copies the record of fd to *out when fd really is one of ours (checked
 * with fstat against the recorded pair end). Returns 1 or 0. */
int mts_fd_get(int fd, struct mts_conn *out);
/* Stores an option value set on a relayed fd. */
void mts_fd_set_opt(int fd, int level, int name, int value);
/* Bookkeeping after the application closed or duplicated descriptors. */
void mts_fd_closed(int fd);
void mts_fd_duped(int oldfd, int newfd);
void mts_fd_atfork_prepare(void);
void mts_fd_atfork_parent(void);
void mts_fd_atfork_child(void);

/* ---- name memory (names.c) ------------------------------------------ */

#define MTS_HOST_MAX 256	/* a host name as text, with its NUL */

void mts_names_learn_dns(const unsigned char *msg, int len, int bufsize);
void mts_names_learn_addr(const char *host, int family, const void *addr);
void mts_names_learn_hostent(const char *host, const struct hostent *h);
void mts_names_learn_addrinfo(const char *host, const struct addrinfo *ai);
/* Most recent host whose address is (family, addr), and the domain whose
 * MX that host is. Sets bit 1 for a host, bit 2 for a domain found. */
int mts_names_lookup(int family, const void *addr, char *host,
		     size_t hostsz, char *domain, size_t domainsz);
void mts_names_atfork_prepare(void);
void mts_names_atfork_parent(void);
void mts_names_atfork_child(void);

/* ---- the connection worker (connect.c) -------------------------------- */

#define MTS_CONNECT_PASS 1	/* not ours, or handed back: do the real call */

/* Is (sa, len) an AF_INET/AF_INET6 address with an intercepted port?
 * Cheap: no lock, no system call. */
int mts_connect_wanted(const struct sockaddr *sa, socklen_t len);
/* Opens the connection of fd to sa through the relay, as connect() does.
 * Returns 0 (relayed: fd is now the pair end), MTS_CONNECT_PASS (the
 * caller performs the real call, unchanged) or -errno (refused or failed
 * closed). errno is kept. */
int mts_connect_worker(int fd, const struct sockaddr *sa, socklen_t len);

/* ---- bypasses seen coming (uring.c, exec.c) ------------------------- */

/* Non-zero (after one log line naming call) when creating an io_uring
 * must fail: the shim enforces and MTASTS_ALLOW_IO_URING is not 1. */
int mts_uring_refused(const char *call);

/* ---- the application's end of the relay (loopback.c) ---------------- */

/* Makes the connection between the application and the relay:
 * ends[0] (takes the application's fd) and ends[1] (the relay's
 * MTS_RELAY_APP_FD), both close-on-exec. A loopback TCP connection of
 * family (AF_INET: 127.0.0.1, AF_INET6: ::1), so that a process without
 * the shim that inherits the fd sees a TCP socket; an AF_UNIX
 * socketpair when loopback TCP is unusable. 0 or -errno. */
int mts_app_channel(int family, int ends[2]);

/* ---- relay process (spawn.c) ----------------------------------------- */

/* Starts the relay with tcp_fd and app_fd laid out as relay_proto.h says.
 * The relay is never a child of the host. Returns 0 or -errno (the exec
 * error of the relay, e.g. -ENOENT). */
int mts_spawn_relay(const char *path, char *const argv[], int tcp_fd,
		    int app_fd);

/* ---- the __res_* aliases, which have no prototype in resolv.h ------- */

int __res_query(const char *, int, int, unsigned char *, int);
int __res_search(const char *, int, int, unsigned char *, int);
int __res_nquery(res_state, const char *, int, int, unsigned char *, int);
int __res_nsearch(res_state, const char *, int, int, unsigned char *, int);
int __res_send(const unsigned char *, int, unsigned char *, int);
int __res_nsend(res_state, const unsigned char *, int, unsigned char *, int);

#endif
