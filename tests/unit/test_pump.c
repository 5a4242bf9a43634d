/*
 * test_pump.c - the relay's byte pump (relay/pump.c)
 *
 * The module is compiled in here directly, with its recv(), send() and
 * poll() counted, and driven over socket pairs: no network. Threads play
 * the application and the server. It asserts that every byte arrives,
 * in order, both ways, in plaintext and over TLS (a throw-away
 * self-signed certificate made here), with the close sequence of pump.h;
 * and what a long session costs: a command and its reply relayed back
 * take one poll() and one read per direction and no read that finds
 * nothing (EAGAIN), which is what the pump's readiness bookkeeping is
 * for. The old loop, which tried every side in every round, made two
 * EAGAIN reads per turn.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* What the pump asked of the kernel on the application's side and, for
 * plaintext, on the server's (TLS reads and writes: see bio_count). */
static struct {
	unsigned recv, send, poll, again;
} calls;

static ssize_t counted_recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r = recv(fd, buf, n, flags);

	calls.recv++;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		calls.again++;
	return r;
}

static ssize_t counted_send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t r = send(fd, buf, n, flags);

	calls.send++;
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		calls.again++;
	return r;
}

static int counted_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	calls.poll++;
	return poll(fds, n, timeout);
}

#define recv counted_recv
#define send counted_send
#define poll counted_poll
#include "../../relay/pump.c"
#include "../../relay/wait.c"
#undef recv
#undef send
#undef poll

/* The filter is not under test (NULL in every pump here). */
size_t relay_filter_up(struct relay_filter *f, const char *in, size_t len,
		       char *out, size_t room_left, size_t *out_len)
{
	*out_len = 0;
	return 0;
}

size_t relay_filter_down(struct relay_filter *f, const char *in, size_t len,
			 char *out, size_t room_left, size_t *out_len)
{
	*out_len = 0;
	return 0;
}

/* --- plumbing ------------------------------------------------------------ */

#define GREETING "220 test ESMTP\r\n"
#define TURNS 50
#define BULK (3u * 1024 * 1024)

struct run {
	struct relay_pump p;
	struct relay_pump_stats st;
	int rc;
};

static void *pump_main(void *arg)
{
	struct run *r = arg;

	r->rc = relay_pump_run(&r->p, &r->st);
	return NULL;
}

/* app[0]/srv[1] are the test's ends; app[1]/srv[0] the pump's. */
static void start_pump(struct run *r, pthread_t *t, int app[2], int srv[2],
		       SSL *ssl)
{
	memset(r, 0, sizeof(*r));
	r->p.app_fd = app[1];
	r->p.tcp_fd = srv[0];
	r->p.ssl = ssl;
	r->p.prefix = GREETING;
	r->p.prefix_len = strlen(GREETING);
	r->p.idle_ms = 20000;
	r->p.linger_ms = 20000;
	memset(&calls, 0, sizeof(calls));
	ck_assert_int_eq(pthread_create(t, NULL, pump_main, r), 0);
}

static void pairs(int app[2], int srv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, app), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, srv), 0);
}

static unsigned char pattern(size_t i, unsigned seed)
{
	return (unsigned char)((i * 31u + seed + (i >> 12)) & 0xff);
}

static void fill(unsigned char *b, size_t off, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(off + i, seed);
}

/* Byte-wise up to LF, so that nothing after the line is consumed. */
static size_t read_line(int fd, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, line + n, 1);

		if (r <= 0)
			break;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return n;
}

static void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t r = write(fd, p, n);

		ck_assert_int_gt(r, 0);
		p += r;
		n -= (size_t)r;
	}
}

/* --- plaintext --------------------------------------------------------------- */

static void *echo_server(void *arg)
{
	int fd = *(int *)arg;
	char line[256];

	while (read_line(fd, line, sizeof(line)) > 0) {
		if (strcmp(line, "QUIT\r\n") == 0) {
			write_all(fd, "221 bye\r\n", 9);
			break;
		}
		write_all(fd, "250 ok\r\n", 8);
	}
	close(fd);
	return NULL;
}

START_TEST(test_plain_turns)
{
	int app[2], srv[2];
	pthread_t tp, ts;
	struct run r;
	char line[256];
	int i;

	pairs(app, srv);
	ck_assert_int_eq(pthread_create(&ts, NULL, echo_server, &srv[1]), 0);
	start_pump(&r, &tp, app, srv, NULL);
	read_line(app[0], line, sizeof(line));
	ck_assert_str_eq(line, GREETING);
	for (i = 0; i < TURNS; i++) {
		write_all(app[0], "NOOP\r\n", 6);
		read_line(app[0], line, sizeof(line));
		ck_assert_str_eq(line, "250 ok\r\n");
	}
	write_all(app[0], "QUIT\r\n", 6);
	read_line(app[0], line, sizeof(line));
	ck_assert_str_eq(line, "221 bye\r\n");
	ck_assert_int_eq(read(app[0], line, 1), 0);	/* the server closed */
	close(app[0]);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.st.closed_by, "server");
	ck_assert_uint_eq(r.st.to_server, 6u * TURNS + 6);
	ck_assert_uint_eq(r.st.to_app, strlen(GREETING) + 8u * TURNS + 9);
	/* greeting, a command and a reply per turn, QUIT and 221 */
	ck_assert_uint_eq(calls.send, 2u * TURNS + 3);
	/* a command, a reply per turn; the EOFs at the end */
	ck_assert_uint_le(calls.recv, 2u * TURNS + 6);
	ck_assert_uint_le(calls.poll, 2u * TURNS + 6);
	ck_assert_uint_le(calls.again, 1);
	close(app[1]);
	close(srv[0]);
}
END_TEST

struct bulk_side {
	int fd;
	unsigned seed;
	size_t got;
	int intact;
};

static void *bulk_send(void *arg)
{
	struct bulk_side *b = arg;
	unsigned char chunk[7001];
	size_t off = 0;

	while (off < BULK) {
		size_t n = BULK - off < sizeof(chunk) ? BULK - off : sizeof(chunk);

		fill(chunk, off, n, b->seed);
		write_all(b->fd, chunk, n);
		off += n;
	}
	shutdown(b->fd, SHUT_WR);
	return NULL;
}

/* Reads until EOF; skip bytes first (the greeting). */
static void bulk_receive(struct bulk_side *b, size_t skip)
{
	unsigned char chunk[5003];
	ssize_t r;

	b->intact = 1;
	while ((r = read(b->fd, chunk, sizeof(chunk))) > 0) {
		for (ssize_t i = 0; i < r; i++, b->got++) {
			if (b->got < skip)
				continue;
			if (chunk[i] != pattern(b->got - skip, b->seed))
				b->intact = 0;
		}
	}
}

static void *bulk_server(void *arg)
{
	struct bulk_side *b = arg;
	struct bulk_side out = { b->fd, 7, 0, 0 };
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, bulk_send, &out), 0);
	bulk_receive(b, 0);
	pthread_join(t, NULL);
	close(b->fd);
	return NULL;
}

/* Both directions at once, 3 MiB each, both buffers full: the pump must
 * keep reading one side while the other is blocked. */
START_TEST(test_plain_bulk_both_ways)
{
	int app[2], srv[2];
	pthread_t tp, ts, ta;
	struct run r;
	struct bulk_side at_srv, at_app, from_app;

	pairs(app, srv);
	at_srv = (struct bulk_side){ srv[1], 3, 0, 0 };
	from_app = (struct bulk_side){ app[0], 3, 0, 0 };
	at_app = (struct bulk_side){ app[0], 7, 0, 0 };
	ck_assert_int_eq(pthread_create(&ts, NULL, bulk_server, &at_srv), 0);
	start_pump(&r, &tp, app, srv, NULL);
	ck_assert_int_eq(pthread_create(&ta, NULL, bulk_send, &from_app), 0);
	bulk_receive(&at_app, strlen(GREETING));
	pthread_join(ta, NULL);
	close(app[0]);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(at_srv.got, BULK);
	ck_assert_int_eq(at_srv.intact, 1);
	ck_assert_uint_eq(at_app.got, BULK + strlen(GREETING));
	ck_assert_int_eq(at_app.intact, 1);
	ck_assert_uint_eq(r.st.to_server, BULK);
	ck_assert_uint_eq(r.st.to_app, BULK + strlen(GREETING));
	close(app[1]);
	close(srv[0]);
}
END_TEST

/* --- TLS --------------------------------------------------------------------- */

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	X509_NAME *name;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(crt);
	X509_set_version(crt, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
	X509_gmtime_adj(X509_getm_notBefore(crt), -60);
	X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
	X509_set_pubkey(crt, key);
	name = X509_get_subject_name(crt);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"mx.pump.test", -1,
				   -1, 0);
	X509_set_issuer_name(crt, name);
	ck_assert_int_gt(X509_sign(crt, key, EVP_sha256()), 0);
	ck_assert_int_eq(SSL_CTX_use_certificate(ctx, crt), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
	/* No tickets: the client's first read is the first reply. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	X509_free(crt);
	EVP_PKEY_free(key);
	return ctx;
}

/* Reads and write EAGAINs of the pump's TLS leg, through its socket BIO. */
static struct {
	unsigned reads, writes, again;
} tls_calls;

static long bio_count(BIO *b, int op, const char *argp, size_t len, int argi,
		      long argl, int ret, size_t *processed)
{
	if (op == (BIO_CB_READ | BIO_CB_RETURN) ||
	    op == (BIO_CB_WRITE | BIO_CB_RETURN)) {
		if (op == (BIO_CB_READ | BIO_CB_RETURN))
			tls_calls.reads++;
		else
			tls_calls.writes++;
		if (ret <= 0 && BIO_should_retry(b))
			tls_calls.again++;
	}
	return ret;
}

struct tls_server {
	SSL_CTX *ctx;
	int fd;
	int mode;		/* 0: command/reply turns; 1: bulk */
	size_t got;
	int intact;
};

static int tls_read_line(SSL *ssl, char *line, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		if (SSL_read(ssl, line + n, 1) != 1)
			break;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return (int)n;
}

static void tls_write_all(SSL *ssl, const void *buf, size_t n)
{
	ck_assert_int_eq(SSL_write(ssl, buf, (int)n), (int)n);
}

static void tls_turns(SSL *ssl)
{
	char line[256];

	while (tls_read_line(ssl, line, sizeof(line)) > 0) {
		if (strcmp(line, "QUIT\r\n") == 0) {
			tls_write_all(ssl, "221 bye\r\n", 9);
			break;
		}
		tls_write_all(ssl, "250 ok\r\n", 8);
	}
}

/* 2 MiB down in 1000-byte records (many records per read() with
 * read-ahead), then everything the application sends until its
 * close_notify, then a last line and our close_notify. */
static void tls_bulk(struct tls_server *t, SSL *ssl)
{
	unsigned char chunk[1000];
	size_t off, n;
	int r;

	for (off = 0; off < BULK - BULK / 3; off += n) {
		n = BULK - BULK / 3 - off;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		fill(chunk, off, n, 11);
		tls_write_all(ssl, chunk, n);
	}
	t->intact = 1;
	while ((r = SSL_read(ssl, chunk, sizeof(chunk))) > 0) {
		for (int i = 0; i < r; i++, t->got++)
			if (chunk[i] != pattern(t->got, 5))
				t->intact = 0;
	}
	ck_assert_int_eq(SSL_get_error(ssl, r), SSL_ERROR_ZERO_RETURN);
	tls_write_all(ssl, "221 bye\r\n", 9);
}

static void *tls_server_main(void *arg)
{
	struct tls_server *t = arg;
	SSL *ssl = SSL_new(t->ctx);

	SSL_set_fd(ssl, t->fd);
	ck_assert_int_eq(SSL_accept(ssl), 1);
	if (t->mode == 0)
		tls_turns(ssl);
	else
		tls_bulk(t, ssl);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(t->fd);
	return NULL;
}

static SSL *tls_client(SSL_CTX **cctx, int fd)
{
	SSL *ssl;

	*cctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(*cctx);
	SSL_CTX_set_verify(*cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(*cctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	ssl = SSL_new(*cctx);
	SSL_set_fd(ssl, fd);
	ck_assert_int_eq(SSL_connect(ssl), 1);
	memset(&tls_calls, 0, sizeof(tls_calls));
	BIO_set_callback_ex(SSL_get_rbio(ssl), bio_count);
	return ssl;
}

START_TEST(test_tls_turns)
{
	int app[2], srv[2];
	pthread_t tp, ts;
	struct run r;
	struct tls_server t = { server_ctx(), -1, 0, 0, 0 };
	SSL_CTX *cctx;
	SSL *ssl;
	char line[256];
	int i;

	pairs(app, srv);
	t.fd = srv[1];
	ck_assert_int_eq(pthread_create(&ts, NULL, tls_server_main, &t), 0);
	ssl = tls_client(&cctx, srv[0]);
	start_pump(&r, &tp, app, srv, ssl);
	read_line(app[0], line, sizeof(line));
	ck_assert_str_eq(line, GREETING);
	for (i = 0; i < TURNS; i++) {
		write_all(app[0], "NOOP\r\n", 6);
		read_line(app[0], line, sizeof(line));
		ck_assert_str_eq(line, "250 ok\r\n");
	}
	write_all(app[0], "QUIT\r\n", 6);
	read_line(app[0], line, sizeof(line));
	ck_assert_str_eq(line, "221 bye\r\n");
	ck_assert_int_eq(read(app[0], line, 1), 0);	/* close_notify */
	close(app[0]);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(r.st.closed_by, "server");
	ck_assert_uint_eq(r.st.to_server, 6u * TURNS + 6);
	ck_assert_uint_eq(r.st.to_app, strlen(GREETING) + 8u * TURNS + 9);
	/* One read() per reply (read-ahead: header and body together), the
	 * 221 and close_notify possibly apart, the EOF. */
	ck_assert_uint_le(tls_calls.reads, TURNS + 4);
	ck_assert_uint_le(tls_calls.again, 2);
	ck_assert_uint_le(calls.again, 1);
	ck_assert_uint_le(calls.poll, 2u * TURNS + 6);
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	SSL_CTX_free(t.ctx);
	close(app[1]);
	close(srv[0]);
}
END_TEST

/* Down first (the application reads 2 MiB of small records while the
 * pump's buffers fill and drain), then up until the application closes:
 * its bytes all arrive before our close_notify, the server's last line
 * still reaches it, then the server's close_notify ends the session. */
START_TEST(test_tls_bulk)
{
	int app[2], srv[2];
	pthread_t tp, ts, ta;
	struct run r;
	struct tls_server t = { server_ctx(), -1, 1, 0, 0 };
	struct bulk_side from_app;
	SSL_CTX *cctx;
	SSL *ssl;
	unsigned char *down;
	size_t down_len = BULK - BULK / 3, want, got = 0;
	char line[256];

	pairs(app, srv);
	t.fd = srv[1];
	ck_assert_int_eq(pthread_create(&ts, NULL, tls_server_main, &t), 0);
	ssl = tls_client(&cctx, srv[0]);
	start_pump(&r, &tp, app, srv, ssl);
	want = strlen(GREETING) + down_len;
	down = malloc(want);
	ck_assert_ptr_nonnull(down);
	while (got < want) {
		ssize_t n = read(app[0], down + got, want - got);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(memcmp(down, GREETING, strlen(GREETING)), 0);
	for (size_t i = 0; i < down_len; i++)
		if (down[strlen(GREETING) + i] != pattern(i, 11))
			ck_abort_msg("down byte %zu differs", i);
	free(down);
	from_app = (struct bulk_side){ app[0], 5, 0, 0 };
	ck_assert_int_eq(pthread_create(&ta, NULL, bulk_send, &from_app), 0);
	pthread_join(ta, NULL);		/* sent and SHUT_WR */
	read_line(app[0], line, sizeof(line));
	ck_assert_str_eq(line, "221 bye\r\n");
	ck_assert_int_eq(read(app[0], line, 1), 0);
	close(app[0]);
	pthread_join(tp, NULL);
	pthread_join(ts, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(t.got, BULK);
	ck_assert_int_eq(t.intact, 1);
	ck_assert_uint_eq(r.st.to_server, BULK);
	ck_assert_uint_eq(r.st.to_app, strlen(GREETING) + down_len + 9);
	ck_assert_str_eq(r.st.closed_by, "app");
	SSL_free(ssl);
	SSL_CTX_free(cctx);
	SSL_CTX_free(t.ctx);
	close(app[1]);
	close(srv[0]);
}
END_TEST

static Suite *pump_suite(void)
{
	Suite *s = suite_create("pump");
	TCase *tc = tcase_create("pump");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_plain_turns);
	tcase_add_test(tc, test_plain_bulk_both_ways);
	tcase_add_test(tc, test_tls_turns);
	tcase_add_test(tc, test_tls_bulk);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pump_suite());
	int failed;

	/* As in the relay (main.c): a write to a closed peer is EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
