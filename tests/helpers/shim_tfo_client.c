/*
 * shim_tfo_client.c - SMTP through every connection-opening call but connect()
 *
 * SYNOPSIS
 *	shim_tfo_client [-AD] [-i SUBJECT] [-r RCPT] [-m HOST] MODE ADDR PORT
 *
 * DESCRIPTION
 *	Opens a TCP connection to ADDR:PORT (IPv4) the MODE's way, then runs
 *	one SMTP transaction (greeting, EHLO, MAIL, RCPT, DATA, the message
 *	with Subject SUBJECT, QUIT). Run it under LD_PRELOAD=libmtasts.so to
 *	see that each way takes the shim's connect() path.
 *
 *	sendto           sendto(MSG_FASTOPEN, addr) on a fresh socket
 *	sendmsg          sendmsg(MSG_FASTOPEN) with msg_name
 *	sendmmsg         sendmmsg(MSG_FASTOPEN), one message with msg_name
 *	sendmmsg2        sendmmsg(MSG_FASTOPEN) of two messages, the second
 *	                 "NOOP\r\n": the kernel connects with the first and
 *	                 fails the second (EISCONN), so the call must return 1
 *	                 and the NOOP must never reach the server
 *	tfo-connect      setsockopt(TCP_FASTOPEN_CONNECT, 1), then connect();
 *	                 getsockopt must still say 1 afterwards
 *	syscall-connect  syscall(SYS_connect, ...)
 *	syscall-sendto   syscall(SYS_sendto, ..., MSG_FASTOPEN, addr, len)
 *	syscall-sendmsg  syscall(SYS_sendmsg, ..., MSG_FASTOPEN)
 *
 *	-m HOST looks HOST up with getaddrinfo() first and connects to its
 *	first IPv4 address (ADDR is ignored): the shim learns the MX name.
 *
 *	-A, once the connection is open: connect() and sendto(MSG_FASTOPEN)
 *	to the same address again must both fail with EISCONN, as on a
 *	connected TCP socket (prints "again=ok", else exits 1).
 *
 *	-D sends "EHLO tfo.client.test\r\n" as the data of the opening call
 *	(the SYN's payload); the client then reads the greeting and the EHLO
 *	reply without sending EHLO again. Without -D the opening call sends
 *	no data, as Exim does.
 *
 *	Output, one line: "open=ok sent=N" and "smtp=ok" when the message was
 *	accepted; or "open=fail errno=NAME" (exit 3) when the opening call
 *	failed. Exit 0 ok, 1 SMTP failure, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static const char early[] = "EHLO tfo.client.test\r\n";

static const char *errno_name(int e)
{
	switch (e) {
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINPROGRESS: return "EINPROGRESS";
	case EISCONN: return "EISCONN";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	default: return "other";
	}
}

/* Reads one SMTP reply (all its lines); returns its code or -1. */
static int reply(int fd)
{
	char line[1024];
	size_t n = 0;

	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r <= 0)
			return -1;
		if (n < sizeof(line) - 1)
			line[n++] = c;
		if (c != '\n')
			continue;
		line[n] = '\0';
		fprintf(stderr, "S: %s", line);
		if (n >= 4 && line[3] == ' ')
			return atoi(line);
		if (n < 4 || line[3] != '-')
			return -1;
		n = 0;
	}
}

static int say(int fd, const char *text)
{
	size_t len = strlen(text);

	fprintf(stderr, "C: %s", text);
	return write(fd, text, len) == (ssize_t)len ? 0 : -1;
}

static int command(int fd, const char *text, int want)
{
	return say(fd, text) == 0 && reply(fd) == want ? 0 : -1;
}

static int smtp(int fd, int early_sent, const char *subject, const char *rcpt)
{
	char buf[512];

	if (reply(fd) != 220)
		return -1;
	if (early_sent ? reply(fd) != 250 :
			 command(fd, "EHLO tfo.client.test\r\n", 250) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "RCPT TO:<%s>\r\n", rcpt);
	if (command(fd, "MAIL FROM:<s@sender.test>\r\n", 250) < 0 ||
	    command(fd, buf, 250) < 0 || command(fd, "DATA\r\n", 354) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "Subject: %s\r\n\r\nhello\r\n.\r\n",
		 subject);
	if (command(fd, buf, 250) < 0)
		return -1;
	command(fd, "QUIT\r\n", 221);
	return 0;
}

/* Opens the connection the MODE's way; returns bytes sent (>= 0) or -1. */
static long open_conn(const char *mode, int fd, const struct sockaddr_in *in,
		      const char *data, size_t len)
{
	const struct sockaddr *sa = (const struct sockaddr *)in;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg;
	struct mmsghdr mm;
	int one = 1, got = 0;
	socklen_t gl = sizeof(got);
	long r;

	memset(&msg, 0, sizeof(msg));
	msg.msg_name = (void *)in;
	msg.msg_namelen = sizeof(*in);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (strcmp(mode, "sendto") == 0)
		return sendto(fd, data, len, MSG_FASTOPEN, sa, sizeof(*in));
	if (strcmp(mode, "sendmsg") == 0)
		return sendmsg(fd, &msg, MSG_FASTOPEN);
	if (strcmp(mode, "sendmmsg") == 0) {
		memset(&mm, 0, sizeof(mm));
		mm.msg_hdr = msg;
		r = sendmmsg(fd, &mm, 1, MSG_FASTOPEN);
		return r == 1 ? (long)mm.msg_len : -1;
	}
	if (strcmp(mode, "sendmmsg2") == 0) {
		struct iovec noop = { .iov_base = (void *)"NOOP\r\n",
				      .iov_len = 6 };
		struct mmsghdr two[2];

		memset(two, 0, sizeof(two));
		two[0].msg_hdr = msg;
		two[1].msg_hdr.msg_iov = &noop;
		two[1].msg_hdr.msg_iovlen = 1;
		r = sendmmsg(fd, two, 2, MSG_FASTOPEN);
		if (r > 1) {
			printf("sendmmsg sent %ld messages, the kernel sends 1\n",
			       r);
			exit(1);
		}
		return r == 1 ? (long)two[0].msg_len : -1;
	}
	if (strcmp(mode, "tfo-connect") == 0) {
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one,
			       sizeof(one)) < 0) {
			perror("setsockopt TCP_FASTOPEN_CONNECT");
			return -1;
		}
		if (connect(fd, sa, sizeof(*in)) < 0)
			return -1;
		if (getsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &got,
			       &gl) < 0 || got != 1) {
			fprintf(stderr, "TCP_FASTOPEN_CONNECT reads %d\n", got);
			exit(1);
		}
		return len > 0 ? write(fd, data, len) : 0;
	}
	if (strcmp(mode, "syscall-connect") == 0) {
		if (syscall(SYS_connect, fd, sa, sizeof(*in)) < 0)
			return -1;
		return len > 0 ? write(fd, data, len) : 0;
	}
	if (strcmp(mode, "syscall-sendto") == 0)
		return syscall(SYS_sendto, fd, data, len, MSG_FASTOPEN, sa,
			       sizeof(*in));
	if (strcmp(mode, "syscall-sendmsg") == 0)
		return syscall(SYS_sendmsg, fd, &msg, MSG_FASTOPEN);
	fprintf(stderr, "unknown mode %s\n", mode);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *subject = "tfo", *rcpt = "a@good.test", *host = NULL;
	struct sockaddr_in in;
	int opt, with_data = 0, again = 0, fd;
	long sent;

	while ((opt = getopt(argc, argv, "ADi:r:m:")) != -1) {
		switch (opt) {
		case 'A': again = 1; break;
		case 'm': host = optarg; break;
		case 'D': with_data = 1; break;
		case 'i': subject = optarg; break;
		case 'r': rcpt = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: shim_tfo_client [-D] [-i SUBJECT] "
				"[-r RCPT] MODE ADDR PORT\n");
		return 2;
	}
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons((unsigned short)atoi(argv[optind + 2]));
	if (host != NULL) {
		struct addrinfo hints, *ai;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &ai) != 0) {
			fprintf(stderr, "cannot resolve %s\n", host);
			return 2;
		}
		memcpy(&in.sin_addr,
		       &((struct sockaddr_in *)ai->ai_addr)->sin_addr,
		       sizeof(in.sin_addr));
		freeaddrinfo(ai);
	} else if (inet_pton(AF_INET, argv[optind + 1], &in.sin_addr) != 1) {
		return 2;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 2;
	sent = open_conn(argv[optind], fd, &in, with_data ? early : "",
			 with_data ? strlen(early) : 0);
	if (sent < 0) {
		printf("open=fail errno=%s\n", errno_name(errno));
		return 3;
	}
	printf("open=ok sent=%ld\n", sent);
	fflush(stdout);
	if (with_data && (size_t)sent != strlen(early)) {
		printf("short send\n");
		return 1;
	}
	if (again) {
		int e1, e2;

		e1 = connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0 ?
			     errno : 0;
		e2 = sendto(fd, "", 0, MSG_FASTOPEN, (struct sockaddr *)&in,
			    sizeof(in)) < 0 ? errno : 0;
		if (e1 != EISCONN || e2 != EISCONN) {
			printf("again: connect %s, sendto %s\n", errno_name(e1),
			       errno_name(e2));
			return 1;
		}
		printf("again=ok\n");
		fflush(stdout);
	}
	if (smtp(fd, with_data, subject, rcpt) < 0) {
		printf("smtp=fail\n");
		return 1;
	}
	printf("smtp=ok\n");
	return 0;
}
