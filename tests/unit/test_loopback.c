/*
 * test_loopback.c - the application's channel to the relay (shim/loopback.c)
 *
 * The module is compiled in here directly, with the real libc calls in
 * mts_real (what init.c would bind) and a log stub that counts lines. It
 * asserts what a process without the shim would see of each end (family,
 * type, loopback addresses, the two ends connected to each other,
 * TCP_NODELAY, close-on-exec, blocking), that a stranger racing to the
 * listener is closed and never handed out, that too many strangers make
 * it give up (and the public call fall back to a socketpair, logging
 * once), and that no path leaks an fd. Traffic stays on 127.0.0.1 / ::1.
 */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>

#include "../../shim/loopback.c"

struct mts_real mts_real;
static int log_lines;

void mts_log(const char *fmt, ...)
{
	(void)fmt;
	log_lines++;
}

static void bind_real(void)
{
	mts_real.connect = connect;
	mts_real.close = close;
	mts_real.fcntl = fcntl;
	mts_real.getsockname = getsockname;
	mts_real.getsockopt = getsockopt;
	mts_real.setsockopt = setsockopt;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static int sock_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, level, name, &v, &l), 0);
	return v;
}

static int v6_loopback_usable(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Both ends as a process without the shim sees them: TCP of family,
 * each the other's peer, on loopback; then bytes both ways. */
static void check_channel(int family, const int ends[2])
{
	struct sockaddr_storage a_local, a_peer, b_local, b_peer;
	socklen_t l;
	char buf[8];

	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(sock_int(ends[i], SOL_SOCKET, SO_DOMAIN),
				 family);
		ck_assert_int_eq(sock_int(ends[i], SOL_SOCKET, SO_TYPE),
				 SOCK_STREAM);
		ck_assert_int_eq(sock_int(ends[i], SOL_SOCKET, SO_PROTOCOL),
				 IPPROTO_TCP);
		ck_assert_int_eq(sock_int(ends[i], IPPROTO_TCP, TCP_NODELAY),
				 1);
		ck_assert_int_eq(fcntl(ends[i], F_GETFD), FD_CLOEXEC);
		ck_assert_int_eq(fcntl(ends[i], F_GETFL) & O_NONBLOCK, 0);
	}
	l = sizeof(a_local);
	ck_assert_int_eq(getsockname(ends[0], (struct sockaddr *)&a_local, &l), 0);
	l = sizeof(a_peer);
	ck_assert_int_eq(getpeername(ends[0], (struct sockaddr *)&a_peer, &l), 0);
	l = sizeof(b_local);
	ck_assert_int_eq(getsockname(ends[1], (struct sockaddr *)&b_local, &l), 0);
	l = sizeof(b_peer);
	ck_assert_int_eq(getpeername(ends[1], (struct sockaddr *)&b_peer, &l), 0);
	ck_assert(same_endpoint(&a_local, &b_peer));
	ck_assert(same_endpoint(&b_local, &a_peer));
	if (family == AF_INET)
		ck_assert_uint_eq(((struct sockaddr_in *)&a_peer)->sin_addr.s_addr,
				  htonl(INADDR_LOOPBACK));
	else
		ck_assert(IN6_IS_ADDR_LOOPBACK(
			&((struct sockaddr_in6 *)&a_peer)->sin6_addr));
	ck_assert_int_eq(write(ends[0], "EHLO", 4), 4);
	ck_assert_int_eq(read(ends[1], buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "EHLO", 4), 0);
	ck_assert_int_eq(write(ends[1], "250", 3), 3);
	ck_assert_int_eq(read(ends[0], buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "250", 3), 0);
}

START_TEST(test_channel_v4)
{
	int ends[2], before;

	bind_real();
	log_lines = 0;
	before = open_fds();
	ck_assert_int_eq(mts_app_channel(AF_INET, ends), 0);
	ck_assert_int_eq(open_fds(), before + 2);	/* listener closed */
	check_channel(AF_INET, ends);
	close(ends[0]);
	close(ends[1]);
	ck_assert_int_eq(open_fds(), before);
	ck_assert_int_eq(log_lines, 0);
}
END_TEST

START_TEST(test_channel_v6)
{
	int ends[2], before;

	bind_real();
	if (!v6_loopback_usable())
		return;		/* no ::1 here: test_fallback covers it */
	log_lines = 0;
	before = open_fds();
	ck_assert_int_eq(mts_app_channel(AF_INET6, ends), 0);
	check_channel(AF_INET6, ends);
	close(ends[0]);
	close(ends[1]);
	ck_assert_int_eq(open_fds(), before);
	ck_assert_int_eq(log_lines, 0);
}
END_TEST

/* A stranger that got to the listener first: accepted, closed, not
 * returned; our own connection is. */
START_TEST(test_stranger_closed)
{
	struct sockaddr_storage addr, mine;
	socklen_t len;
	int listener, stranger, client, accepted, before;
	char c;

	bind_real();
	before = open_fds();
	listener = listen_loopback(AF_INET, &addr, &len);
	ck_assert_int_ge(listener, 0);
	stranger = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(stranger, (struct sockaddr *)&addr, len), 0);
	client = connect_start(AF_INET, &addr, len, &mine);
	ck_assert_int_ge(client, 0);
	accepted = accept_ours(listener, &mine);
	ck_assert_int_ge(accepted, 0);
	ck_assert_int_eq(connect_finish(client), 0);
	/* The stranger was hung up on: EOF. */
	ck_assert_int_eq(read(stranger, &c, 1), 0);
	ck_assert_int_eq(write(client, "x", 1), 1);
	ck_assert_int_eq(read(accepted, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(stranger);
	close(client);
	close(accepted);
	close(listener);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

/* ACCEPT_TRIES strangers and no sign of ours: give up (-EADDRINUSE),
 * every stranger hung up on, nothing leaked. */
START_TEST(test_too_many_strangers)
{
	struct sockaddr_storage addr, nobody;
	socklen_t len;
	int listener, before, s[ACCEPT_TRIES];
	char c;

	bind_real();
	before = open_fds();
	listener = listen_loopback(AF_INET, &addr, &len);
	ck_assert_int_ge(listener, 0);
	/* Room for all of them at once (listen(1) queues only a couple). */
	ck_assert_int_eq(listen(listener, 16), 0);
	for (int i = 0; i < ACCEPT_TRIES; i++) {
		s[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_eq(connect(s[i], (struct sockaddr *)&addr, len), 0);
	}
	memset(&nobody, 0, sizeof(nobody));
	nobody.ss_family = AF_INET;	/* port 0: matches no one */
	ck_assert_int_eq(accept_ours(listener, &nobody), -EADDRINUSE);
	for (int i = 0; i < ACCEPT_TRIES; i++) {
		ck_assert_int_eq(read(s[i], &c, 1), 0);
		close(s[i]);
	}
	close(listener);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

/* A family loopback TCP cannot serve: the socketpair, one log line for
 * any number of fallbacks. */
START_TEST(test_fallback)
{
	int ends[2], before;

	bind_real();
	log_lines = 0;
	before = open_fds();
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mts_app_channel(AF_UNIX, ends), 0);
		ck_assert_int_eq(sock_int(ends[0], SOL_SOCKET, SO_DOMAIN),
				 AF_UNIX);
		ck_assert_int_eq(sock_int(ends[1], SOL_SOCKET, SO_DOMAIN),
				 AF_UNIX);
		ck_assert_int_eq(fcntl(ends[0], F_GETFD), FD_CLOEXEC);
		close(ends[0]);
		close(ends[1]);
	}
	ck_assert_int_eq(log_lines, 1);
	ck_assert_int_eq(open_fds(), before);
}
END_TEST

static Suite *loopback_suite(void)
{
	Suite *s = suite_create("loopback");
	TCase *tc = tcase_create("channel");

	tcase_add_test(tc, test_channel_v4);
	tcase_add_test(tc, test_channel_v6);
	tcase_add_test(tc, test_stranger_closed);
	tcase_add_test(tc, test_too_many_strangers);
	tcase_add_test(tc, test_fallback);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loopback_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
