/*
 * main.c - mtasts-relay: one intercepted SMTP connection, under MTA-STS
 *
 * SYNOPSIS
 *	mtasts-relay --dest ADDR --port N [--mx HOST] [--domain DOMAIN]
 *	    (started by libmtasts.so with fd 3 = the application's TCP socket,
 *	     fd 4 = its end of the socket pair; see shim/relay_proto.h)
 *
 * DESCRIPTION
 *	The process side of the relay: check the arguments and the two fds,
 *	ignore SIGPIPE (a peer that went away must show up as EPIPE, not
 *	kill us before the other side is flushed), close every other
 *	inherited fd, read the configuration (config.h) and open the log
 *	(ident "mtasts-relay"), then hand over to relay_session_run(), which
 *	does the work for the connection.
 *
 *	Fail closed: bad arguments or a configuration error still produce a
 *	REFUSE verdict (ECONNREFUSED) when fd 4 is there to carry it, so the
 *	application's connect() fails rather than goes through unchecked.
 *
 * EXIT STATUS
 *	0 when the connection ran its course (whatever the verdict), 1 on a
 *	configuration error, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "lookup.h"
#include "session.h"
#include "verdict.h"
#include "wait.h"

#define EXIT_CONFIG 1
#define EXIT_USAGE 2
#define VERDICT_MS 2000

static const char usage[] =
"usage: mtasts-relay --dest ADDR --port N [--mx HOST] [--domain DOMAIN]\n"
"\n"
"mtasts-relay is not meant to be run by hand. libmtasts.so (the preload\n"
"library that mtasts-wrap(1) installs) starts one for each SMTP connection\n"
"it intercepts, with file descriptor 3 the application's unconnected TCP\n"
"socket and 4 one end of a socket pair leading back to the application.\n"
"\n"
"The relay looks up the MTA-STS policy of DOMAIN (RFC 8461), connects to\n"
"ADDR port N, performs STARTTLS and validates the certificate of the MX\n"
"HOST, writes its verdict on fd 4 (allow, refuse or hand off), then relays\n"
"the plaintext session to the application. See mtasts(7).\n"
"\n"
"  --dest ADDR     numeric IPv4 or IPv6 address to connect to\n"
"  --port N        TCP port\n"
"  --mx HOST       the MX host name the application resolved (optional)\n"
"  --domain D      the recipient domain whose policy applies (optional)\n"
"\n"
"Configuration comes from the MTASTS_* environment variables (mtasts(7)).\n";

/* Refuses through fd 4 if it is usable, so connect() fails closed. */
static void refuse_early(void)
{
	if (fcntl(MTS_RELAY_APP_FD, F_GETFD) >= 0)
		relay_verdict_send(MTS_RELAY_APP_FD, MTS_VERDICT_REFUSE,
				   ECONNREFUSED, -1,
				   relay_now_ms() + VERDICT_MS);
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "mtasts-relay: %s%s\n%s", what, arg, usage);
	refuse_early();
	return EXIT_USAGE;
}

static int parse_port(const char *s, unsigned short *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = (unsigned short)v;
	return 0;
}

static void close_other_fds(void)
{
	int first = MTS_RELAY_APP_FD + 1;

	if (close_range((unsigned)first, ~0U, 0) == 0)
		return;
	for (int fd = first; fd < 1024; fd++)
		close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dest", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "mx", required_argument, NULL, 'm' },
		{ "domain", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct relay_hints h = { NULL, 0, NULL, NULL };
	struct mts_config cfg;
	char err[512];
	int c;

	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': h.dest = optarg; break;
		case 'p':
			if (parse_port(optarg, &h.port) < 0)
				return usage_error("bad --port ", optarg);
			break;
		case 'm': h.mx = optarg; break;
		case 'D': h.domain = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return usage_error("unknown option", "");
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument ", argv[optind]);
	if (h.dest == NULL || h.port == 0)
		return usage_error("--dest and --port are required", "");
	if (fcntl(MTS_RELAY_TCP_FD, F_GETFD) < 0 ||
	    fcntl(MTS_RELAY_APP_FD, F_GETFD) < 0) {
		fprintf(stderr, "mtasts-relay: file descriptors 3 and 4 must be "
			"open (see --help)\n");
		refuse_early();
		return EXIT_USAGE;
	}
	close_other_fds();

	if (mts_config_load(&cfg, err, sizeof(err)) < 0) {
		mts_log_init("mtasts-relay", "syslog", MTS_LOG_WARN, NULL, 0);
		mts_log(MTS_LOG_ERROR, "configuration: %s: refusing the "
			"connection", err);
		refuse_early();
		return EXIT_CONFIG;
	}
	if (mts_log_init("mtasts-relay", cfg.log_target, cfg.log_level, err,
			 sizeof(err)) < 0) {
		mts_log_init("mtasts-relay", "syslog", cfg.log_level, NULL, 0);
		mts_log(MTS_LOG_WARN, "log %s: %s: using syslog", cfg.log_target,
			err);
	}
	if (h.domain == NULL && cfg.domain[0] != '\0')
		h.domain = cfg.domain;

	relay_session_run(&cfg, &h, MTS_RELAY_TCP_FD, MTS_RELAY_APP_FD);
	/* A recipient's policy look-up given up on may still run, using
	 * cfg (on this stack) and OpenSSL: no exit() clean-ups under it. */
	if (relay_lookup_running() > 0) {
		mts_log(MTS_LOG_DEBUG, "a policy look-up is still running: "
			"leaving without clean-ups");
		_exit(0);
	}
	return 0;
}
