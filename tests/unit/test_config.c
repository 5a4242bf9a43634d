/*
 * test_config.c - unit tests for policy/config.c: every MTASTS_* variable,
 * valid and invalid, with the exact error texts, the defaults, and the
 * DNS server list as c-ares actually accepts it.
 *
 * Check forks every test; setup() clears the environment each time.
 */
#include <ares.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"

static const char *const vars[] = {
	"MTASTS_DNS_SERVERS", "MTASTS_CA_FILE", "MTASTS_CA_PATH",
	"MTASTS_CACHE_DIR", "MTASTS_TIMEOUT", "MTASTS_LOG", "MTASTS_LOG_LEVEL",
	"MTASTS_FALLBACK", "MTASTS_EHLO_NAME", "MTASTS_DOMAIN", "MTASTS_PORTS",
	"MTASTS_REPORT_DIR", "XDG_CACHE_HOME",
};

static struct mts_config cfg;
static char err[512];
static char tmpdir[64];

static void setup(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("HOME", "/root", 1);
	memset(&cfg, 0xa5, sizeof(cfg));
	err[0] = '\0';
	mts_strlcpy(tmpdir, "/tmp/test_config.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

/* Loads with one variable set; expects success. */
static void load_ok(const char *var, const char *value)
{
	if (var)
		setenv(var, value, 1);
	ck_assert_msg(mts_config_load(&cfg, err, sizeof(err)) == 0,
		      "%s=%s: unexpected error: %s", var, value, err);
}

/* Loads with one variable set; expects exactly this error. */
static void load_fails(const char *var, const char *value, const char *want)
{
	setenv(var, value, 1);
	ck_assert_msg(mts_config_load(&cfg, err, sizeof(err)) == -1,
		      "%s=%s: accepted", var, value);
	ck_assert_str_eq(err, want);
	unsetenv(var);
}

START_TEST(defaults_as_root)
{
	ck_assert_int_eq(geteuid(), 0);	/* the suite runs as root */
	load_ok(NULL, NULL);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(cfg.dns_servers, "");
	ck_assert_str_eq(cfg.ca_file, "");
	ck_assert_str_eq(cfg.ca_path, "/etc/ssl/certs");
	ck_assert_str_eq(cfg.cache_dir, "/var/cache/mtasts");
	ck_assert_str_eq(cfg.report_dir, "/var/cache/mtasts/reports");
	ck_assert_uint_eq(cfg.timeout_s, 60);
	ck_assert_str_eq(cfg.log_target, "syslog");
	ck_assert_int_eq(cfg.log_level, MTS_LOG_INFO);
	ck_assert_int_eq(cfg.fallback, MTS_FALLBACK_MAY);
	ck_assert_str_eq(cfg.domain, "");
	ck_assert_uint_eq(cfg.port_count, 1);
	ck_assert_uint_eq(cfg.ports[0], 25);
	/* The default EHLO name is a syntactically valid host name. */
	ck_assert_uint_gt(strlen(cfg.ehlo_name), 0);
	ck_assert_uint_eq(strspn(cfg.ehlo_name, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."),
			  strlen(cfg.ehlo_name));
	ck_assert(cfg.ehlo_name[0] != '.');
	ck_assert_ptr_null(strstr(cfg.ehlo_name, ".."));
}
END_TEST

/* The loader's non-root branch, with the effective uid of nobody (this
 * test runs in its own forked process). */
START_TEST(defaults_non_root)
{
	ck_assert_int_eq(seteuid(65534), 0);
	setenv("HOME", "/home/someone", 1);
	load_ok(NULL, NULL);
	ck_assert_str_eq(cfg.cache_dir, "/home/someone/.cache/mtasts");
	ck_assert_str_eq(cfg.report_dir, "/home/someone/.cache/mtasts/reports");
	load_ok("XDG_CACHE_HOME", "/xdg/cache");
	ck_assert_str_eq(cfg.cache_dir, "/xdg/cache/mtasts");
	load_ok("XDG_CACHE_HOME", "relative");
	ck_assert_str_eq(cfg.cache_dir, "/home/someone/.cache/mtasts");
	unsetenv("XDG_CACHE_HOME");
	/* No usable HOME: the password database (nobody: /nonexistent). */
	setenv("HOME", "relative", 1);
	load_ok(NULL, NULL);
	ck_assert_str_eq(cfg.cache_dir, "/nonexistent/.cache/mtasts");
	unsetenv("HOME");
	load_ok(NULL, NULL);
	ck_assert_str_eq(cfg.cache_dir, "/nonexistent/.cache/mtasts");
	/* A uid with no passwd entry and no HOME has no default. */
	ck_assert_int_eq(seteuid(0), 0);
	ck_assert_int_eq(seteuid(54321), 0);
	ck_assert_int_eq(mts_config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "MTASTS_CACHE_DIR: not set, and there is no home "
			 "directory to put a default under (uid 54321)");
	load_ok("MTASTS_CACHE_DIR", "/explicit");
	ck_assert_str_eq(cfg.cache_dir, "/explicit");
	ck_assert_int_eq(seteuid(0), 0);
}
END_TEST

START_TEST(empty_counts_as_unset)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], "", 1);
	load_ok(NULL, NULL);
	ck_assert_uint_eq(cfg.timeout_s, 60);
	ck_assert_str_eq(cfg.cache_dir, "/var/cache/mtasts");
	ck_assert_str_eq(cfg.ca_path, "/etc/ssl/certs");
	ck_assert_str_eq(cfg.log_target, "syslog");
	ck_assert_uint_eq(cfg.port_count, 1);
}
END_TEST

START_TEST(default_cache_dir_function)
{
	char out[64];

	ck_assert_int_eq(mts_config_default_cache_dir(0, "/home/u", "/xdg",
						      out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/var/cache/mtasts");
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "/home/u", NULL,
						      out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/home/u/.cache/mtasts");
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "/home/u/", NULL,
						      out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/home/u/.cache/mtasts");
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "/", NULL,
						      out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/.cache/mtasts");
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "/home/u",
						      "/xdg/c/", out,
						      sizeof(out)), 0);
	ck_assert_str_eq(out, "/xdg/c/mtasts");
	/* A relative XDG_CACHE_HOME is ignored (XDG spec). */
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "/home/u", "rel",
						      out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/home/u/.cache/mtasts");
	ck_assert_int_eq(mts_config_default_cache_dir(1000, NULL, "/x",
						      out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/x/mtasts");
	ck_assert_int_eq(mts_config_default_cache_dir(1000, NULL, NULL,
						      out, sizeof(out)), -1);
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "home", "xdg",
						      out, sizeof(out)), -1);
	ck_assert_int_eq(mts_config_default_cache_dir(1000, "/home/u", NULL,
						      out, 10), -1);
	ck_assert_int_eq(mts_config_default_cache_dir(0, NULL, NULL, out, 10),
			 -1);
}
END_TEST

START_TEST(cache_and_report_dir)
{
	load_ok("MTASTS_CACHE_DIR", "/srv/cache///");
	ck_assert_str_eq(cfg.cache_dir, "/srv/cache");
	ck_assert_str_eq(cfg.report_dir, "/srv/cache/reports");
	load_ok("MTASTS_REPORT_DIR", "/srv/reports/");
	ck_assert_str_eq(cfg.report_dir, "/srv/reports");
	load_fails("MTASTS_CACHE_DIR", "cache",
		   "MTASTS_CACHE_DIR: \"cache\" is not an absolute path");
	load_fails("MTASTS_REPORT_DIR", "./r",
		   "MTASTS_REPORT_DIR: \"./r\" is not an absolute path");
}
END_TEST

START_TEST(cache_dir_too_long)
{
	char *big = malloc(PATH_MAX + 10);

	memset(big, 'a', PATH_MAX + 9);
	big[0] = '/';
	big[PATH_MAX + 9] = '\0';
	setenv("MTASTS_CACHE_DIR", big, 1);
	ck_assert_int_eq(mts_config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is too long (at most 4095 bytes)") != NULL,
		      "%s", err);
	ck_assert_msg(strncmp(err, "MTASTS_CACHE_DIR: \"/aaa", 23) == 0, "%s",
		      err);
	/* The shown value is cut: 80 characters and "...". */
	ck_assert_ptr_nonnull(strstr(err, "aaa...\" is too long"));
	free(big);
}
END_TEST

#define TIMEOUT_ERR(v) \
	"MTASTS_TIMEOUT: \"" v "\" is not a number of seconds (1-3600)"

START_TEST(timeout)
{
	load_ok("MTASTS_TIMEOUT", "1");
	ck_assert_uint_eq(cfg.timeout_s, 1);
	load_ok("MTASTS_TIMEOUT", "3600");
	ck_assert_uint_eq(cfg.timeout_s, 3600);
	load_ok("MTASTS_TIMEOUT", "0030");
	ck_assert_uint_eq(cfg.timeout_s, 30);
	load_fails("MTASTS_TIMEOUT", "abc", TIMEOUT_ERR("abc"));
	load_fails("MTASTS_TIMEOUT", "0", TIMEOUT_ERR("0"));
	load_fails("MTASTS_TIMEOUT", "3601", TIMEOUT_ERR("3601"));
	load_fails("MTASTS_TIMEOUT", "-5", TIMEOUT_ERR("-5"));
	load_fails("MTASTS_TIMEOUT", "+5", TIMEOUT_ERR("+5"));
	load_fails("MTASTS_TIMEOUT", " 60", TIMEOUT_ERR(" 60"));
	load_fails("MTASTS_TIMEOUT", "60s", TIMEOUT_ERR("60s"));
	load_fails("MTASTS_TIMEOUT", "18446744073709551677",
		   TIMEOUT_ERR("18446744073709551677"));
	/* Control characters are never echoed. */
	load_fails("MTASTS_TIMEOUT", "1\n2", TIMEOUT_ERR("1?2"));
}
END_TEST

START_TEST(dns_servers_valid)
{
	load_ok("MTASTS_DNS_SERVERS", "127.0.0.1");
	ck_assert_str_eq(cfg.dns_servers, "127.0.0.1:53");
	load_ok("MTASTS_DNS_SERVERS",
		"127.0.0.1:5353, ::1 ,[::1]:54,[2001:DB8:0::1]");
	ck_assert_str_eq(cfg.dns_servers,
			 "127.0.0.1:5353,[::1]:53,[::1]:54,[2001:db8::1]:53");
	load_ok("MTASTS_DNS_SERVERS", "::ffff:127.0.0.1");
	ck_assert_str_eq(cfg.dns_servers, "[::ffff:127.0.0.1]:53");
	load_ok("MTASTS_DNS_SERVERS", "10.0.0.1:65535");
	ck_assert_str_eq(cfg.dns_servers, "10.0.0.1:65535");
}
END_TEST

#define DNS_ERR(v, problem) "MTASTS_DNS_SERVERS: \"" v "\" " problem
#define NOT_PORT "is not a port number (1-65535)"

START_TEST(dns_servers_invalid)
{
	const char *v = "MTASTS_DNS_SERVERS";

	load_fails(v, "1.2.3.400",
		   DNS_ERR("1.2.3.400", "is not an IPv4 address"));
	load_fails(v, "127.0.0.1,dns.example",
		   DNS_ERR("dns.example", "is not an IPv4 address"));
	load_fails(v, "1.2.3.4:0", DNS_ERR("0", NOT_PORT));
	load_fails(v, "1.2.3.4:65536", DNS_ERR("65536", NOT_PORT));
	load_fails(v, "1.2.3.4:", DNS_ERR("", NOT_PORT));
	load_fails(v, "1.2.3.4:5x", DNS_ERR("5x", NOT_PORT));
	load_fails(v, "[::1", DNS_ERR("[::1", "has no closing ']'"));
	load_fails(v, "[::1]53",
		   DNS_ERR("[::1]53", "has text after ']' that is not :port"));
	load_fails(v, "[127.0.0.1]:53",
		   DNS_ERR("127.0.0.1", "is not an IPv6 address"));
	load_fails(v, "fe80::1%eth0",
		   DNS_ERR("fe80::1%eth0", "is not an IPv6 address"));
	load_fails(v, "::1:53:x",
		   DNS_ERR("::1:53:x", "is not an IPv6 address"));
	load_fails(v, "1.2.3.4,,5.6.7.8",
		   DNS_ERR("1.2.3.4,,5.6.7.8", "has an empty entry"));
	load_fails(v, "1.2.3.4,", DNS_ERR("1.2.3.4,", "has an empty entry"));
	load_fails(v, " ", DNS_ERR(" ", "has an empty entry"));
}
END_TEST

START_TEST(dns_servers_too_many)
{
	struct mts_buf list = MTS_BUF_INIT;

	for (int i = 0; i < 50; i++)
		mts_buf_printf(&list, "%s[2001:db8:1:2:3:4:5555:%d]:53",
			       i ? "," : "", i);
	load_fails("MTASTS_DNS_SERVERS", mts_buf_str(&list),
		   "MTASTS_DNS_SERVERS: too many servers (the list is longer "
		   "than 1023 bytes)");
	mts_buf_free(&list);
}
END_TEST

/* The normalised list is what c-ares takes. */
START_TEST(dns_servers_accepted_by_cares)
{
	struct ares_addr_port_node *servers = NULL, *n;
	ares_channel channel;
	struct ares_options opts;
	int count = 0;

	load_ok("MTASTS_DNS_SERVERS", "127.0.0.1:5353,::1,[::1]:5454");
	ck_assert_int_eq(ares_library_init(ARES_LIB_INIT_ALL), ARES_SUCCESS);
	memset(&opts, 0, sizeof(opts));
	ck_assert_int_eq(ares_init_options(&channel, &opts, 0), ARES_SUCCESS);
	ck_assert_int_eq(ares_set_servers_ports_csv(channel, cfg.dns_servers),
			 ARES_SUCCESS);
	ck_assert_int_eq(ares_get_servers_ports(channel, &servers),
			 ARES_SUCCESS);
	for (n = servers; n; n = n->next, count++) {
		int want_port = count == 0 ? 5353 : count == 1 ? 53 : 5454;

		ck_assert_int_eq(n->family, count == 0 ? AF_INET : AF_INET6);
		ck_assert_int_eq(n->udp_port, want_port);
	}
	ck_assert_int_eq(count, 3);
	ares_free_data(servers);
	ares_destroy(channel);
	ares_library_cleanup();
}
END_TEST

static void ca_file_missing(void)
{
	char path[128], want[256];

	snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
	snprintf(want, sizeof(want), "MTASTS_CA_FILE: \"%s\" cannot be read: "
		 "No such file or directory", path);
	load_fails("MTASTS_CA_FILE", path, want);
}

START_TEST(ca_settings)
{
	char path[128], want[256];
	FILE *f;

	ca_file_missing();
	load_fails("MTASTS_CA_FILE", "ca.pem",
		   "MTASTS_CA_FILE: \"ca.pem\" is not an absolute path");
	snprintf(want, sizeof(want), "MTASTS_CA_FILE: \"%s\" is not a regular "
		 "file", tmpdir);
	load_fails("MTASTS_CA_FILE", tmpdir, want);

	snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN CERTIFICATE-----\n", f);
	fclose(f);
	load_ok("MTASTS_CA_FILE", path);
	ck_assert_str_eq(cfg.ca_file, path);
	ck_assert_str_eq(cfg.ca_path, "");	/* no default with a file */

	load_ok("MTASTS_CA_PATH", tmpdir);
	ck_assert_str_eq(cfg.ca_file, path);
	ck_assert_str_eq(cfg.ca_path, tmpdir);
	unsetenv("MTASTS_CA_FILE");
	load_ok("MTASTS_CA_PATH", "/etc/ssl/certs/");
	ck_assert_str_eq(cfg.ca_file, "");
	ck_assert_str_eq(cfg.ca_path, "/etc/ssl/certs");

	snprintf(want, sizeof(want),
		 "MTASTS_CA_PATH: \"%s\" is not a directory", path);
	load_fails("MTASTS_CA_PATH", path, want);
	load_fails("MTASTS_CA_PATH", "/nonexistent/certs",
		   "MTASTS_CA_PATH: \"/nonexistent/certs\" cannot be used: No "
		   "such file or directory");
	load_fails("MTASTS_CA_PATH", "certs",
		   "MTASTS_CA_PATH: \"certs\" is not an absolute path");
}
END_TEST

START_TEST(log_settings)
{
	load_ok("MTASTS_LOG", "stderr");
	ck_assert_str_eq(cfg.log_target, "stderr");
	load_ok("MTASTS_LOG", "syslog");
	ck_assert_str_eq(cfg.log_target, "syslog");
	load_ok("MTASTS_LOG", "/var/log/mtasts.log");
	ck_assert_str_eq(cfg.log_target, "/var/log/mtasts.log");
	load_fails("MTASTS_LOG", "mtasts.log",
		   "MTASTS_LOG: \"mtasts.log\" is not syslog, stderr or an "
		   "absolute file path");
	load_fails("MTASTS_LOG", "Syslog",
		   "MTASTS_LOG: \"Syslog\" is not syslog, stderr or an "
		   "absolute file path");

	load_ok("MTASTS_LOG_LEVEL", "debug");
	ck_assert_int_eq(cfg.log_level, MTS_LOG_DEBUG);
	load_ok("MTASTS_LOG_LEVEL", "error");
	ck_assert_int_eq(cfg.log_level, MTS_LOG_ERROR);
	load_fails("MTASTS_LOG_LEVEL", "loud",
		   "MTASTS_LOG_LEVEL: \"loud\" is not one of error, warn, "
		   "info, debug");
}
END_TEST

START_TEST(fallback)
{
	static const struct {
		const char *name;
		enum mts_fallback value;
	} cases[] = {
		{ "may", MTS_FALLBACK_MAY },
		{ "encrypt", MTS_FALLBACK_ENCRYPT },
		{ "verify", MTS_FALLBACK_VERIFY },
		{ "none", MTS_FALLBACK_NONE },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load_ok("MTASTS_FALLBACK", cases[i].name);
		ck_assert_int_eq(cfg.fallback, cases[i].value);
		ck_assert_str_eq(mts_fallback_name(cases[i].value),
				 cases[i].name);
	}
	ck_assert_str_eq(mts_fallback_name((enum mts_fallback)42), "unknown");
	load_fails("MTASTS_FALLBACK", "strict",
		   "MTASTS_FALLBACK: \"strict\" is not one of may, encrypt, "
		   "verify, none");
	load_fails("MTASTS_FALLBACK", "MAY",
		   "MTASTS_FALLBACK: \"MAY\" is not one of may, encrypt, "
		   "verify, none");
}
END_TEST

#define EHLO_ERR(v, why) \
	"MTASTS_EHLO_NAME: \"" v "\" is not a host name: it " why
#define DOMAIN_ERR(v, why) \
	"MTASTS_DOMAIN: \"" v "\" is not a domain name: it " why
#define BAD_CHAR "has a character other than letters, digits, '-' and '.'"

START_TEST(ehlo_name)
{
	const char *v = "MTASTS_EHLO_NAME";
	char label64[80], long_name[300];

	load_ok(v, "relay1.Example.org");
	ck_assert_str_eq(cfg.ehlo_name, "relay1.Example.org");
	load_ok(v, "localhost");
	ck_assert_str_eq(cfg.ehlo_name, "localhost");
	load_ok(v, "[192.0.2.1]");
	ck_assert_str_eq(cfg.ehlo_name, "[192.0.2.1]");
	load_ok(v, "[IPv6:2001:db8::1]");
	ck_assert_str_eq(cfg.ehlo_name, "[IPv6:2001:db8::1]");

	load_fails(v, "bad_name.example",
		   EHLO_ERR("bad_name.example", BAD_CHAR));
	load_fails(v, "-a.example",
		   EHLO_ERR("-a.example", "has a label starting with '-'"));
	load_fails(v, "a-.example",
		   EHLO_ERR("a-.example", "has a label ending in '-'"));
	load_fails(v, "a..example",
		   EHLO_ERR("a..example", "has an empty label"));
	load_fails(v, "mail.example.",
		   EHLO_ERR("mail.example.", "has an empty label"));
	load_fails(v, "[192.0.2.300]", EHLO_ERR("[192.0.2.300]", BAD_CHAR));
	memset(label64, 'a', 64);
	mts_strlcpy(label64 + 64, ".example", sizeof(label64) - 64);
	setenv(v, label64, 1);
	ck_assert_int_eq(mts_config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a host name: it has a label "
				     "longer than 63 characters"));
	for (int i = 0; i < 127; i++)
		memcpy(long_name + 2 * i, "a.", 2);
	long_name[254] = '\0';	/* 254 characters, ends with '.' */
	long_name[253] = 'a';
	setenv(v, long_name, 1);
	ck_assert_int_eq(mts_config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is not a host name: it is longer "
				     "than 253 characters"));
	long_name[253] = '\0';	/* 253: fine */
	load_ok(v, long_name);
	ck_assert_uint_eq(strlen(cfg.ehlo_name), 253);
}
END_TEST

START_TEST(domain)
{
	const char *v = "MTASTS_DOMAIN";

	load_ok(v, "Example.COM.");
	ck_assert_str_eq(cfg.domain, "example.com");
	load_ok(v, "xn--bcher-kva.example");
	ck_assert_str_eq(cfg.domain, "xn--bcher-kva.example");
	load_fails(v, "example", DOMAIN_ERR("example", "has only one label"));
	load_fails(v, "192.0.2.1",
		   "MTASTS_DOMAIN: \"192.0.2.1\" is an IP address, not a "
		   "domain name");
	load_fails(v, "exa mple.com", DOMAIN_ERR("exa mple.com", BAD_CHAR));
	load_fails(v, "a..com", DOMAIN_ERR("a..com", "has an empty label"));
	load_fails(v, ".", DOMAIN_ERR(".", "is empty"));
	load_fails(v, "example.com..",
		   DOMAIN_ERR("example.com..", "has an empty label"));
	load_fails(v, "[::1]", DOMAIN_ERR("[::1]", BAD_CHAR));
}
END_TEST

START_TEST(ports)
{
	const char *v = "MTASTS_PORTS";
	struct mts_buf many = MTS_BUF_INIT;

	load_ok(v, "25,587");
	ck_assert_uint_eq(cfg.port_count, 2);
	ck_assert_uint_eq(cfg.ports[0], 25);
	ck_assert_uint_eq(cfg.ports[1], 587);
	load_ok(v, " 2525 , 65535 ,1");
	ck_assert_uint_eq(cfg.port_count, 3);
	ck_assert_uint_eq(cfg.ports[0], 2525);
	ck_assert_uint_eq(cfg.ports[1], 65535);
	ck_assert_uint_eq(cfg.ports[2], 1);
	load_fails(v, "0", "MTASTS_PORTS: \"0\" " NOT_PORT);
	load_fails(v, "25,smtp",
		   "MTASTS_PORTS: \"smtp\" " NOT_PORT);
	load_fails(v, "65536",
		   "MTASTS_PORTS: \"65536\" " NOT_PORT);
	load_fails(v, "-25", "MTASTS_PORTS: \"-25\" " NOT_PORT);
	load_fails(v, "25,,587",
		   "MTASTS_PORTS: \"25,,587\" has an empty entry");
	load_fails(v, "25,587,25",
		   "MTASTS_PORTS: \"25,587,25\" lists port 25 twice");
	for (int i = 1; i <= 16; i++)
		mts_buf_printf(&many, "%s%d", i > 1 ? "," : "", 1000 + i);
	load_ok(v, mts_buf_str(&many));
	ck_assert_uint_eq(cfg.port_count, 16);
	ck_assert_uint_eq(cfg.ports[15], 1016);
	mts_buf_append_str(&many, ",2000");
	setenv(v, mts_buf_str(&many), 1);
	ck_assert_int_eq(mts_config_load(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "\" lists more than 16 ports"));
	mts_buf_free(&many);
}
END_TEST

START_TEST(tiny_error_buffer)
{
	char small[8];

	setenv("MTASTS_TIMEOUT", "x", 1);
	ck_assert_int_eq(mts_config_load(&cfg, small, sizeof(small)), -1);
	ck_assert_str_eq(small, "MTASTS_");
	ck_assert_int_eq(mts_config_load(&cfg, NULL, 0), -1);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_as_root);
	tcase_add_test(tc, defaults_non_root);
	tcase_add_test(tc, empty_counts_as_unset);
	tcase_add_test(tc, default_cache_dir_function);
	tcase_add_test(tc, cache_and_report_dir);
	tcase_add_test(tc, cache_dir_too_long);
	tcase_add_test(tc, timeout);
	tcase_add_test(tc, dns_servers_valid);
	tcase_add_test(tc, dns_servers_invalid);
	tcase_add_test(tc, dns_servers_too_many);
	tcase_add_test(tc, dns_servers_accepted_by_cares);
	tcase_add_test(tc, ca_settings);
	tcase_add_test(tc, log_settings);
	tcase_add_test(tc, fallback);
	tcase_add_test(tc, ehlo_name);
	tcase_add_test(tc, domain);
	tcase_add_test(tc, ports);
	tcase_add_test(tc, tiny_error_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
