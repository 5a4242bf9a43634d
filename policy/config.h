/*
 * config.h - the process configuration, read once from the environment
 *
 * DESCRIPTION
 *	mts_config_load() reads every MTASTS_* variable, validates it and fills
 *	a struct mts_config. In a secure-execution process (AT_SECURE: setuid,
 *	capabilities) the environment is ignored and defaults apply
 *	(secure_getenv).
 *
 *	MTASTS_DNS_SERVERS  ip[:port],... ; IPv6 as [addr]:port or bare addr.
 *	                    Default "" = the system's /etc/resolv.conf.
 *	                    Stored normalised for ares_set_servers_ports_csv:
 *	                    "1.2.3.4:53,[::1]:53" (port always present).
 *	MTASTS_CA_FILE      PEM bundle of trust anchors (default: none)
 *	MTASTS_CA_PATH      hashed CA directory (default /etc/ssl/certs when
 *	                    MTASTS_CA_FILE is unset)
 *	MTASTS_CACHE_DIR    default /var/cache/mtasts for uid 0, else
 *	                    $XDG_CACHE_HOME/mtasts or $HOME/.cache/mtasts
 *	MTASTS_TIMEOUT      seconds, 1..3600, default 60: bound of one policy
 *	                    fetch (connect + transfer) and of one relay verdict
 *	MTASTS_LOG          syslog (default) | stderr | /absolute/path
 *	MTASTS_LOG_LEVEL    error | warn | info (default) | debug
 *	MTASTS_FALLBACK     may (default) | encrypt | verify | none
 *	MTASTS_EHLO_NAME    the relay's own EHLO name, a host name or an
 *	                    address literal ([192.0.2.1], [IPv6:...]);
 *	                    default: gethostname() when dotted, else
 *	                    /etc/mailname, else the bare host name (no DNS)
 *	MTASTS_DOMAIN       fixed recipient domain for every connection
 *	MTASTS_PORTS        ports to intercept, "25" by default ("25,587")
 *	MTASTS_REPORT_DIR   TLSRPT spool (default <cache dir>/reports)
 *
 *	Every path must be absolute (the relay runs in the application's
 *	working directory); MTASTS_CA_FILE must be a readable regular file
 *	and MTASTS_CA_PATH a directory when set. Empty variables count as
 *	unset.
 *
 * DIAGNOSTICS
 *	Returns 0, or -1 with a message naming the variable and the problem
 *	in err, e.g. MTASTS_TIMEOUT: "abc" is not a number of seconds (1-3600)
 */
#ifndef MTS_CONFIG_H
#define MTS_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "log.h"

enum mts_fallback {
	MTS_FALLBACK_MAY = 0,	/* TLS when offered, unverified */
	MTS_FALLBACK_ENCRYPT,	/* TLS required, not verified */
	MTS_FALLBACK_VERIFY,	/* TLS required, chain and MX name verified */
	MTS_FALLBACK_NONE,	/* hands off: plain connection, no relay */
};

#define MTS_DOMAIN_MAX 253
#define MTS_MAX_PORTS 16

struct mts_config {
	char dns_servers[1024];
	char ca_file[PATH_MAX];		/* "" when unset */
	char ca_path[PATH_MAX];		/* "" when unset */
	char cache_dir[PATH_MAX];
	char report_dir[PATH_MAX];
	unsigned timeout_s;
	char log_target[PATH_MAX];
	enum mts_log_level log_level;
	enum mts_fallback fallback;
	char ehlo_name[MTS_DOMAIN_MAX + 1];
	char domain[MTS_DOMAIN_MAX + 1];	/* "" when unset */
	unsigned short ports[MTS_MAX_PORTS];
	size_t port_count;
};

int mts_config_load(struct mts_config *cfg, char *err, size_t errlen);

const char *mts_fallback_name(enum mts_fallback f);

/* The default cache directory for a process of user uid: /var/cache/mtasts
 * for uid 0, else <xdg>/mtasts when xdg is absolute, else
 * <home>/.cache/mtasts when home is absolute (home and xdg may be NULL).
 * Returns 0, or -1 when there is no absolute base or out is too small. */
int mts_config_default_cache_dir(uid_t uid, const char *home, const char *xdg,
				 char *out, size_t outlen);

#endif
