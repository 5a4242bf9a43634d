/*
 * config.c - the process configuration, read once from the environment
 *
 * SYNOPSIS
 *	struct mts_config cfg;
 *	char err[256];
 *	if (mts_config_load(&cfg, err, sizeof(err)) < 0)
 *		fatal("%s", err);
 *
 * DESCRIPTION
 *	Every MTASTS_* variable (see config.h) is read with secure_getenv(),
 *	so a setuid or file-capability process ignores the environment and
 *	runs on defaults. An empty variable counts as unset. Each value is
 *	validated completely before it is used; the first problem found is
 *	reported as "VARIABLE: "value" what is wrong", the value shown with
 *	control characters replaced and long values cut.
 *
 *	Paths (MTASTS_CA_FILE, MTASTS_CA_PATH, MTASTS_CACHE_DIR,
 *	MTASTS_REPORT_DIR, a MTASTS_LOG file) must be absolute: the relay
 *	runs in the working directory of whatever application it was
 *	preloaded into, which may chdir() at any time. Trailing slashes are
 *	removed. MTASTS_CA_FILE is opened once at load so that an unreadable
 *	bundle is reported here, clearly, and not as a TLS failure later.
 *
 *	MTASTS_DNS_SERVERS is normalised to the CSV form that c-ares'
 *	ares_set_servers_ports_csv() takes: "1.2.3.4:53,[::1]:5353" (the
 *	port is always written; 53 when the entry had none). IPv6 zone ids
 *	("fe80::1%eth0") are not accepted.
 *
 *	The default EHLO name never touches the network: the relay starts
 *	once per intercepted connection, and a getaddrinfo(AI_CANONNAME) on
 *	a host with a slow or missing resolver would add seconds to every
 *	delivery. We take gethostname() when it is dotted; else the first
 *	line of /etc/mailname (Debian's mail name) when that is a valid host
 *	name; else the undotted host name; else "localhost.localdomain".
 *	Receivers that insist on a real FQDN need MTASTS_EHLO_NAME.
 *
 * DIAGNOSTICS
 *	mts_config_load() returns 0, or -1 with the message in err.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define DEFAULT_TIMEOUT_S 60
#define MAX_TIMEOUT_S 3600
#define DEFAULT_DNS_PORT 53
#define DEFAULT_CA_PATH "/etc/ssl/certs"
#define ROOT_CACHE_DIR "/var/cache/mtasts"
#define MAILNAME_FILE "/etc/mailname"
/* How much of a bad value an error message shows. */
#define SHOW_MAX 80

/* Reports "VAR: "value" problem" (value NULL: "VAR: problem"). */
static int config_error(char *err, size_t errlen, const char *var,
			const char *value, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int config_error(char *err, size_t errlen, const char *var,
			const char *value, const char *fmt, ...)
{
	char problem[256], shown[SHOW_MAX + 4];
	size_t i = 0;
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	if (value == NULL) {
		snprintf(err, errlen, "%s: %s", var, problem);
		return -1;
	}
	for (; value[i] != '\0' && i < SHOW_MAX; i++) {
		unsigned char c = (unsigned char)value[i];

		shown[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	shown[i] = '\0';
	if (value[i] != '\0')
		mts_strlcpy(shown + i, "...", sizeof(shown) - i);
	snprintf(err, errlen, "%s: \"%s\" %s", var, shown, problem);
	return -1;
}

/* The value of name, or NULL when unset, empty, or ignored (AT_SECURE). */
static const char *config_getenv(const char *name)
{
	const char *v = secure_getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

/* 1-5 decimal digits with a value of 1-65535. */
static int parse_port(const char *s, size_t len, unsigned short *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (unsigned short)v;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Next comma-separated entry of *cursor, blanks around it removed.
 * Returns 0 at the end of the list, else 1 with [*start, *len). */
static int next_entry(const char **cursor, const char **start, size_t *len)
{
	const char *p = *cursor, *end;

	if (p == NULL)
		return 0;
	end = strchr(p, ',');
	*cursor = end ? end + 1 : NULL;
	if (end == NULL)
		end = p + strlen(p);
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	*start = p;
	*len = (size_t)(end - p);
	return 1;
}

/* Checks one "addr[:port]" entry and appends its normalised form. */
static int dns_entry(const char *entry, struct mts_buf *out,
		     char *err, size_t errlen)
{
	const char *var = "MTASTS_DNS_SERVERS";
	char addr[INET6_ADDRSTRLEN + 8], canon[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	unsigned short port = DEFAULT_DNS_PORT;
	const char *colon, *port_text = NULL;
	size_t addrlen;
	int family;

	if (entry[0] == '[') {
		const char *close = strchr(entry, ']');

		if (close == NULL)
			return config_error(err, errlen, var, entry,
					    "has no closing ']'");
		if (close[1] != '\0' && close[1] != ':')
			return config_error(err, errlen, var, entry, "has "
					    "text after ']' that is not :port");
		if (close[1] == ':')
			port_text = close + 2;
		family = AF_INET6;
		entry++;
		addrlen = (size_t)(close - entry);
	} else if ((colon = strchr(entry, ':')) != NULL &&
		   strchr(colon + 1, ':') == NULL) {
		family = AF_INET;	/* exactly one ':': IPv4:port */
		port_text = colon + 1;
		addrlen = (size_t)(colon - entry);
	} else {
		family = colon ? AF_INET6 : AF_INET;	/* bare address */
		addrlen = strlen(entry);
	}
	if (addrlen >= sizeof(addr))
		return config_error(err, errlen, var, entry,
				    "is not an IP address");
	memcpy(addr, entry, addrlen);
	addr[addrlen] = '\0';
	if (inet_pton(family, addr, bin) != 1)
		return config_error(err, errlen, var, addr,
				    "is not an %s address",
				    family == AF_INET ? "IPv4" : "IPv6");
	if (port_text && parse_port(port_text, strlen(port_text), &port) < 0)
		return config_error(err, errlen, var, port_text,
				    "is not a port number (1-65535)");
	if (inet_ntop(family, bin, canon, sizeof(canon)) == NULL)
		return config_error(err, errlen, var, addr,
				    "is not an IP address");
	if (out->len > 0 && mts_buf_append_str(out, ",") < 0)
		return config_error(err, errlen, var, NULL, "out of memory");
	if (mts_buf_printf(out, family == AF_INET ? "%s:%u" : "[%s]:%u",
			   canon, (unsigned)port) < 0)
		return config_error(err, errlen, var, NULL, "out of memory");
	return 0;
}

static int load_dns_servers(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *var = "MTASTS_DNS_SERVERS";
	const char *value = config_getenv(var), *cursor = value, *start;
	struct mts_buf out = MTS_BUF_INIT;
	char entry[128];
	size_t len;
	int rc = -1;

	cfg->dns_servers[0] = '\0';
	if (value == NULL)
		return 0;
	while (next_entry(&cursor, &start, &len)) {
		if (len == 0) {
			config_error(err, errlen, var, value,
				     "has an empty entry");
			goto out;
		}
		if (len >= sizeof(entry)) {
			config_error(err, errlen, var, start,
				     "is not an IP address");
			goto out;
		}
		memcpy(entry, start, len);
		entry[len] = '\0';
		if (dns_entry(entry, &out, err, errlen) < 0)
			goto out;
	}
	if (out.len >= sizeof(cfg->dns_servers)) {
		config_error(err, errlen, var, NULL, "too many servers (the "
			     "list is longer than %zu bytes)",
			     sizeof(cfg->dns_servers) - 1);
		goto out;
	}
	mts_strlcpy(cfg->dns_servers, mts_buf_str(&out),
		    sizeof(cfg->dns_servers));
	rc = 0;
out:
	mts_buf_free(&out);
	return rc;
}

/* Copies an absolute path into out[outlen] without trailing slashes. */
static int absolute_path(const char *var, const char *value, char *out,
			 size_t outlen, char *err, size_t errlen)
{
	size_t len = strlen(value);

	if (value[0] != '/')
		return config_error(err, errlen, var, value,
				    "is not an absolute path");
	while (len > 1 && value[len - 1] == '/')
		len--;
	if (len >= outlen)
		return config_error(err, errlen, var, value,
				    "is too long (at most %zu bytes)",
				    outlen - 1);
	memcpy(out, value, len);
	out[len] = '\0';
	return 0;
}

static int load_ca(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *file = config_getenv("MTASTS_CA_FILE");
	const char *dir = config_getenv("MTASTS_CA_PATH");
	struct stat st;
	int fd;

	cfg->ca_file[0] = cfg->ca_path[0] = '\0';
	if (file != NULL) {
		if (absolute_path("MTASTS_CA_FILE", file, cfg->ca_file,
				  sizeof(cfg->ca_file), err, errlen) < 0)
			return -1;
		fd = open(cfg->ca_file,
			  O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0)
			return config_error(err, errlen, "MTASTS_CA_FILE", file,
					    "cannot be read: %s",
					    strerror(errno));
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			return config_error(err, errlen, "MTASTS_CA_FILE", file,
					    "is not a regular file");
		}
		close(fd);
	}
	if (dir != NULL) {
		if (absolute_path("MTASTS_CA_PATH", dir, cfg->ca_path,
				  sizeof(cfg->ca_path), err, errlen) < 0)
			return -1;
		if (stat(cfg->ca_path, &st) < 0)
			return config_error(err, errlen, "MTASTS_CA_PATH", dir,
					    "cannot be used: %s",
					    strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return config_error(err, errlen, "MTASTS_CA_PATH", dir,
					    "is not a directory");
	}
	if (file == NULL && dir == NULL)
		mts_strlcpy(cfg->ca_path, DEFAULT_CA_PATH,
			    sizeof(cfg->ca_path));
	return 0;
}

/* Appends suffix to base (trailing slashes of base dropped) into out. */
static int join_path(const char *base, const char *suffix, char *out,
		     size_t outlen)
{
	size_t len = strlen(base);
	int n;

	while (len > 0 && base[len - 1] == '/')
		len--;
	if (len > (size_t)INT_MAX)
		return -1;
	n = snprintf(out, outlen, "%.*s%s", (int)len, base, suffix);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int mts_config_default_cache_dir(uid_t uid, const char *home, const char *xdg,
				 char *out, size_t outlen)
{
	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if (uid == 0)
		return join_path(ROOT_CACHE_DIR, "", out, outlen);
	if (xdg != NULL && xdg[0] == '/')
		return join_path(xdg, "/mtasts", out, outlen);
	if (home != NULL && home[0] == '/')
		return join_path(home, "/.cache/mtasts", out, outlen);
	return -1;
}

/* The home directory of the effective user from the password database. */
static int passwd_home(char *out, size_t outlen)
{
	struct passwd pw, *found = NULL;
	char buf[16384];

	if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found) != 0 ||
	    found == NULL || pw.pw_dir == NULL || pw.pw_dir[0] != '/')
		return -1;
	return mts_strlcpy(out, pw.pw_dir, outlen) < outlen ? 0 : -1;
}

static int load_cache_dir(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *var = "MTASTS_CACHE_DIR";
	const char *value = config_getenv(var);
	const char *home = config_getenv("HOME");
	char pw_home[PATH_MAX];
	uid_t uid = geteuid();

	if (value != NULL)
		return absolute_path(var, value, cfg->cache_dir,
				     sizeof(cfg->cache_dir), err, errlen);
	if (uid != 0 && (home == NULL || home[0] != '/')) {
		home = NULL;
		if (passwd_home(pw_home, sizeof(pw_home)) == 0)
			home = pw_home;
	}
	if (mts_config_default_cache_dir(uid, home,
					 config_getenv("XDG_CACHE_HOME"),
					 cfg->cache_dir,
					 sizeof(cfg->cache_dir)) < 0)
		return config_error(err, errlen, var, NULL, "not set, and "
				    "there is no home directory to put a "
				    "default under (uid %lu)",
				    (unsigned long)uid);
	return 0;
}

static int load_report_dir(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *var = "MTASTS_REPORT_DIR";
	const char *value = config_getenv(var);

	if (value != NULL)
		return absolute_path(var, value, cfg->report_dir,
				     sizeof(cfg->report_dir), err, errlen);
	if (join_path(cfg->cache_dir, "/reports", cfg->report_dir,
		      sizeof(cfg->report_dir)) < 0)
		return config_error(err, errlen, var, NULL, "not set, and "
				    "<cache dir>/reports is too long");
	return 0;
}

static int load_timeout(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *var = "MTASTS_TIMEOUT";
	const char *value = config_getenv(var);
	unsigned long v = 0;

	cfg->timeout_s = DEFAULT_TIMEOUT_S;
	if (value == NULL)
		return 0;
	/* Plain digits only; stop as soon as the value is out of range, so
	 * no number of digits can overflow. */
	for (const char *p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > MAX_TIMEOUT_S) {
			v = 0;
			break;
		}
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > MAX_TIMEOUT_S)
		return config_error(err, errlen, var, value, "is not a number "
				    "of seconds (1-%d)", MAX_TIMEOUT_S);
	cfg->timeout_s = (unsigned)v;
	return 0;
}

static int load_log(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *target = config_getenv("MTASTS_LOG");
	const char *level = config_getenv("MTASTS_LOG_LEVEL");

	mts_strlcpy(cfg->log_target, "syslog", sizeof(cfg->log_target));
	cfg->log_level = MTS_LOG_INFO;
	if (target != NULL) {
		if (strcmp(target, "syslog") == 0 ||
		    strcmp(target, "stderr") == 0)
			mts_strlcpy(cfg->log_target, target,
				    sizeof(cfg->log_target));
		else if (target[0] != '/')
			return config_error(err, errlen, "MTASTS_LOG", target,
					    "is not syslog, stderr or an "
					    "absolute file path");
		else if (absolute_path("MTASTS_LOG", target, cfg->log_target,
				       sizeof(cfg->log_target), err,
				       errlen) < 0)
			return -1;
	}
	if (level != NULL && mts_log_level_parse(level, &cfg->log_level) < 0)
		return config_error(err, errlen, "MTASTS_LOG_LEVEL", level,
				    "is not one of error, warn, info, debug");
	return 0;
}

static const char *const fallback_names[] = {
	[MTS_FALLBACK_MAY] = "may",
	[MTS_FALLBACK_ENCRYPT] = "encrypt",
	[MTS_FALLBACK_VERIFY] = "verify",
	[MTS_FALLBACK_NONE] = "none",
};

const char *mts_fallback_name(enum mts_fallback f)
{
	if ((unsigned)f >= sizeof(fallback_names) / sizeof(fallback_names[0]))
		return "unknown";
	return fallback_names[f];
}

static int load_fallback(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *value = config_getenv("MTASTS_FALLBACK");

	cfg->fallback = MTS_FALLBACK_MAY;
	if (value == NULL)
		return 0;
	for (size_t i = 0; i <= MTS_FALLBACK_NONE; i++) {
		if (strcmp(value, fallback_names[i]) == 0) {
			cfg->fallback = (enum mts_fallback)i;
			return 0;
		}
	}
	return config_error(err, errlen, "MTASTS_FALLBACK", value,
			    "is not one of may, encrypt, verify, none");
}

static int is_ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* Host name syntax (RFC 1123): labels of 1-63 letters, digits and '-',
 * not starting or ending with '-', separated by single dots, at most 253
 * in all, no trailing dot. Returns NULL or the reason. */
static const char *hostname_reason(const char *name, size_t *labels)
{
	size_t len = strlen(name), label = 0;

	*labels = 0;
	if (len == 0)
		return "is empty";
	if (len > MTS_DOMAIN_MAX)
		return "is longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			if (label == 0)
				return "has an empty label";
			if (label > 63)
				return "has a label longer than 63 characters";
			if (name[i - 1] == '-')
				return "has a label ending in '-'";
			label = 0;
			(*labels)++;
			continue;
		}
		if (!is_ldh(c))
			return "has a character other than letters, digits, "
			       "'-' and '.'";
		if (label == 0 && c == '-')
			return "has a label starting with '-'";
		label++;
	}
	return NULL;
}

/* An SMTP address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
static int is_address_literal(const char *s)
{
	char addr[INET6_ADDRSTRLEN + 8];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t len = strlen(s);
	int family = AF_INET;

	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return 0;
	s++;
	len -= 2;
	if (len > 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		family = AF_INET6;
		s += 5;
		len -= 5;
	}
	if (len >= sizeof(addr))
		return 0;
	memcpy(addr, s, len);
	addr[len] = '\0';
	return inet_pton(family, addr, bin) == 1;
}

static int load_ehlo_name_default(struct mts_config *cfg)
{
	char host[MTS_DOMAIN_MAX + 2], mailname[MTS_DOMAIN_MAX + 2];
	size_t labels;
	int host_ok;
	FILE *f;

	host[0] = '\0';
	if (gethostname(host, sizeof(host)) < 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	host_ok = hostname_reason(host, &labels) == NULL;
	if (host_ok && labels > 1)
		goto use_host;
	f = fopen(MAILNAME_FILE, "re");
	if (f != NULL) {
		if (fgets(mailname, sizeof(mailname), f) != NULL) {
			mailname[strcspn(mailname, "\r\n")] = '\0';
			if (hostname_reason(mailname, &labels) == NULL &&
			    labels > 1) {
				fclose(f);
				mts_strlcpy(cfg->ehlo_name, mailname,
					    sizeof(cfg->ehlo_name));
				return 0;
			}
		}
		fclose(f);
	}
	if (!host_ok)
		mts_strlcpy(host, "localhost.localdomain", sizeof(host));
use_host:
	mts_strlcpy(cfg->ehlo_name, host, sizeof(cfg->ehlo_name));
	return 0;
}

static int load_ehlo_name(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *value = config_getenv("MTASTS_EHLO_NAME");
	const char *reason;
	size_t labels;

	if (value == NULL)
		return load_ehlo_name_default(cfg);
	if (!is_address_literal(value) &&
	    (reason = hostname_reason(value, &labels)) != NULL)
		return config_error(err, errlen, "MTASTS_EHLO_NAME", value,
				    "is not a host name: it %s", reason);
	mts_strlcpy(cfg->ehlo_name, value, sizeof(cfg->ehlo_name));
	return 0;
}

static int load_domain(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *var = "MTASTS_DOMAIN";
	const char *value = config_getenv(var), *reason, *last;
	char name[MTS_DOMAIN_MAX + 2];
	size_t len, labels;

	cfg->domain[0] = '\0';
	if (value == NULL)
		return 0;
	len = strlen(value);
	if (len > 0 && value[len - 1] == '.')
		len--;			/* one trailing dot: the root */
	if (len >= sizeof(name))
		return config_error(err, errlen, var, value, "is not a domain "
				    "name: it is longer than 253 characters");
	for (size_t i = 0; i < len; i++) {
		char c = value[i];

		name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	name[len] = '\0';
	if ((reason = hostname_reason(name, &labels)) != NULL)
		return config_error(err, errlen, var, value,
				    "is not a domain name: it %s", reason);
	if (labels < 2)
		return config_error(err, errlen, var, value, "is not a domain "
				    "name: it has only one label");
	last = strrchr(name, '.') + 1;
	if (strspn(last, "0123456789") == strlen(last))
		return config_error(err, errlen, var, value, "is an IP "
				    "address, not a domain name");
	mts_strlcpy(cfg->domain, name, sizeof(cfg->domain));
	return 0;
}

static int load_ports(struct mts_config *cfg, char *err, size_t errlen)
{
	const char *var = "MTASTS_PORTS";
	const char *value = config_getenv(var), *cursor = value, *start;
	unsigned short port;
	char shown[SHOW_MAX + 1];
	size_t len;

	cfg->ports[0] = 25;
	cfg->port_count = 1;
	if (value == NULL)
		return 0;
	cfg->port_count = 0;
	while (next_entry(&cursor, &start, &len)) {
		if (len == 0)
			return config_error(err, errlen, var, value,
					    "has an empty entry");
		if (parse_port(start, len, &port) < 0) {
			mts_strlcpy(shown, start, len < sizeof(shown) ?
				    len + 1 : sizeof(shown));
			return config_error(err, errlen, var, shown,
					    "is not a port number (1-65535)");
		}
		for (size_t i = 0; i < cfg->port_count; i++)
			if (cfg->ports[i] == port)
				return config_error(err, errlen, var, value,
						    "lists port %u twice",
						    (unsigned)port);
		if (cfg->port_count == MTS_MAX_PORTS)
			return config_error(err, errlen, var, value,
					    "lists more than %d ports",
					    MTS_MAX_PORTS);
		cfg->ports[cfg->port_count++] = port;
	}
	return 0;
}

int mts_config_load(struct mts_config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (load_dns_servers(cfg, err, errlen) < 0 ||
	    load_ca(cfg, err, errlen) < 0 ||
	    load_cache_dir(cfg, err, errlen) < 0 ||
	    load_report_dir(cfg, err, errlen) < 0 ||
	    load_timeout(cfg, err, errlen) < 0 ||
	    load_log(cfg, err, errlen) < 0 ||
	    load_fallback(cfg, err, errlen) < 0 ||
	    load_ehlo_name(cfg, err, errlen) < 0 ||
	    load_domain(cfg, err, errlen) < 0 ||
	    load_ports(cfg, err, errlen) < 0)
		return -1;
	return 0;
}
