/*
 * cmd_doctor.c - `mtasts doctor [--json] COMMAND|PATH`
 *
 * DESCRIPTION
 *	Tells an operator, before they rely on it, whether libmtasts.so
 *	will see the connections of a program. It finds COMMAND as execvp()
 *	would (PATH), follows "#!" interpreters (as the kernel does, up to
 *	four levels, and through /usr/bin/env NAME), and reads the ELF
 *	program that will really run with its own small parser: the ELF
 *	header, the program headers (PT_INTERP: dynamically linked;
 *	PT_DYNAMIC: the DT_NEEDED library names) and a scan of the file for
 *	the Go linker's build-information block. No libelf:
 *	every offset and size read from the file is checked against the
 *	file's size and fixed limits before it is used, as hostile input.
 *
 *	Not covered (exit 1, each reason printed): a static program (no
 *	dynamic linker reads LD_PRELOAD), a Go program (its runtime makes
 *	system calls itself), a set-user-ID or set-group-ID program or one
 *	with file capabilities (the dynamic linker ignores LD_PRELOAD in a
 *	secure-execution process), a file that is neither ELF nor a script,
 *	an ELF file this host cannot read. A program that links liburing is
 *	covered (the library refuses io_uring where it enforces) but gets a
 *	warning: it may work less well, or not at all, without io_uring.
 *
 * BUGS
 *	liburing linked statically, raw system calls in C code and
 *	dlopen()ed libraries are not visible in these headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <elf.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"

const char cli_usage_doctor[] =
"usage: mtasts doctor [--json] COMMAND|PATH\n"
"\n"
"Will libmtasts.so (mtasts-wrap) cover this program? Finds COMMAND in PATH,\n"
"follows #! interpreters, and reads the ELF program that will run:\n"
"dynamically linked or static, a Go program, set-user-ID/set-group-ID or\n"
"file capabilities, links liburing, and whether LD_PRELOAD is honoured.\n"
"\n"
"  --json    print {\"command\", \"path\", \"program\", \"covered\", ...,\n"
"            \"reasons\":[...], \"warnings\":[...]}\n"
"\n"
"exit status: 0 covered, 1 not covered (the reasons are printed), 2 usage\n"
"error, command not found or unreadable.\n";

#define SCRIPT_DEPTH_MAX 4
#define SHEBANG_MAX 256			/* the kernel's BINPRM_BUF_SIZE */
#define PHDR_MAX 256
#define DYNAMIC_BYTES_MAX (256 * 1024)
#define STRTAB_BYTES_MAX (4 * 1024 * 1024)
#define NEEDED_MAX 256
#define SCAN_CHUNK (256 * 1024)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* The Go linker's build information (section .go.buildinfo, also in
 * stripped programs): this marker at a 16-byte aligned offset, then the
 * pointer size (4 or 8). The alignment and that byte keep a mere copy of
 * the text (as in this very program) from counting. */
static const char go_buildinfo[] = "\xff Go buildinf:";
#define GO_MARK_LEN (sizeof(go_buildinfo) - 1)
#define GO_ALIGN 16

/* One program header, whatever the ELF class. */
struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz;
};

/* What the doctor found out. */
struct diagnosis {
	char command[PATH_MAX];
	char path[PATH_MAX];		/* the command as found */
	char program[PATH_MAX];		/* the ELF file that runs */
	struct mts_strlist scripts;	/* interpreters followed, in order */
	int is_elf, elf_class, dynamic, go, liburing;
	int setuid, setgid, caps;
	char interp[PATH_MAX];		/* PT_INTERP */
	struct mts_strlist needed;
	struct mts_strlist reasons, warnings;
};

static void diagnosis_free(struct diagnosis *d)
{
	mts_strlist_free(&d->scripts);
	mts_strlist_free(&d->needed);
	mts_strlist_free(&d->reasons);
	mts_strlist_free(&d->warnings);
}

/* ---- finding the program -------------------------------------------- */

static int is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH));
}

/* COMMAND as execvp() finds it: with a slash as it is, else the first
 * executable file in PATH. 0, or -1 when there is none. */
static int find_command(const char *cmd, char *out, size_t outlen)
{
	const char *p, *end;
	struct mts_buf full = MTS_BUF_INIT;
	int rc = -1;

	if (cmd[0] == '\0')
		return -1;
	if (strchr(cmd, '/') != NULL) {
		if (mts_strlcpy(out, cmd, outlen) >= outlen)
			return -1;
		return access(out, F_OK) == 0 ? 0 : -1;
	}
	if ((p = getenv("PATH")) == NULL || p[0] == '\0')
		p = DEFAULT_PATH;
	for (;; p = end + 1) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		mts_buf_reset(&full);
		if (end == p)
			mts_buf_append_str(&full, "./");
		else if (mts_buf_append(&full, p, (size_t)(end - p)) < 0 ||
			 mts_buf_append_str(&full, "/") < 0)
			break;
		if (mts_buf_append_str(&full, cmd) < 0)
			break;
		if (is_executable_file(mts_buf_str(&full)) &&
		    mts_strlcpy(out, mts_buf_str(&full), outlen) < outlen) {
			rc = 0;
			break;
		}
		if (*end == '\0')
			break;
	}
	mts_buf_free(&full);
	return rc;
}

/* ---- reading the file ------------------------------------------------- */

/* Exactly len bytes at off, or -1. */
static int read_at(int fd, uint64_t off, void *buf, size_t len, off_t size)
{
	size_t got = 0;

	if (off > (uint64_t)size || len > (uint64_t)size - off)
		return -1;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got,
				  (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* "#!interpreter [arg]": the interpreter and its argument, or -1 when
 * the file is no script. */
static int read_shebang(int fd, char *interp, size_t ilen, char *arg,
			size_t alen)
{
	char line[SHEBANG_MAX + 1];
	ssize_t n;
	char *p, *q, *nl;

	n = pread(fd, line, SHEBANG_MAX, 0);
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return -1;
	line[n] = '\0';
	if ((nl = memchr(line, '\n', (size_t)n)) != NULL)
		*nl = '\0';
	for (p = line + 2; *p == ' ' || *p == '\t'; p++)
		;
	for (q = p; *q != '\0' && *q != ' ' && *q != '\t'; q++)
		;
	if (q == p || (size_t)(q - p) >= ilen)
		return -1;
	memcpy(interp, p, (size_t)(q - p));
	interp[q - p] = '\0';
	for (p = q; *p == ' ' || *p == '\t'; p++)
		;
	for (q = p + strlen(p); q > p && (q[-1] == ' ' || q[-1] == '\t' ||
					  q[-1] == '\r'); q--)
		;
	*q = '\0';
	mts_strlcpy(arg, p, alen);
	return 0;
}

/* ---- the ELF parser --------------------------------------------------- */

static int read_phdrs(int fd, off_t size, const unsigned char *ident,
		      const void *ehdr, struct phdr *ph, size_t *count)
{
	uint64_t phoff;
	size_t entsize, n;

	if (ident[EI_CLASS] == ELFCLASS64) {
		const Elf64_Ehdr *e = ehdr;

		phoff = e->e_phoff;
		entsize = e->e_phentsize;
		n = e->e_phnum;
		if (entsize != sizeof(Elf64_Phdr))
			return -1;
	} else {
		const Elf32_Ehdr *e = ehdr;

		phoff = e->e_phoff;
		entsize = e->e_phentsize;
		n = e->e_phnum;
		if (entsize != sizeof(Elf32_Phdr))
			return -1;
	}
	if (n > PHDR_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = phoff + (uint64_t)i * entsize;

		if (off < phoff)
			return -1;
		if (ident[EI_CLASS] == ELFCLASS64) {
			Elf64_Phdr p;

			if (read_at(fd, off, &p, sizeof(p), size) < 0)
				return -1;
			ph[i].type = p.p_type;
			ph[i].offset = p.p_offset;
			ph[i].vaddr = p.p_vaddr;
			ph[i].filesz = p.p_filesz;
		} else {
			Elf32_Phdr p;

			if (read_at(fd, off, &p, sizeof(p), size) < 0)
				return -1;
			ph[i].type = p.p_type;
			ph[i].offset = p.p_offset;
			ph[i].vaddr = p.p_vaddr;
			ph[i].filesz = p.p_filesz;
		}
	}
	*count = n;
	return 0;
}

/* The file offset of a virtual address, through the PT_LOAD segments. */
static int vaddr_to_offset(const struct phdr *ph, size_t n, uint64_t addr,
			   uint64_t *off)
{
	for (size_t i = 0; i < n; i++) {
		if (ph[i].type != PT_LOAD || addr < ph[i].vaddr ||
		    addr - ph[i].vaddr >= ph[i].filesz)
			continue;
		*off = ph[i].offset + (addr - ph[i].vaddr);
		return *off < ph[i].offset ? -1 : 0;
	}
	return -1;
}

/* DT_NEEDED strings of the PT_DYNAMIC segment into d->needed. */
static int read_needed(int fd, off_t size, int class64, const struct phdr *ph,
		       size_t n, const struct phdr *dyn, struct diagnosis *d)
{
	uint64_t strtab = 0, strsz = 0, stroff, needed[NEEDED_MAX];
	size_t entsize = class64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
	size_t len = dyn->filesz, count = 0;
	unsigned char *raw = NULL;
	char *strings = NULL;
	int rc = -1;

	if (len > DYNAMIC_BYTES_MAX)
		len = DYNAMIC_BYTES_MAX;
	len -= len % entsize;
	if ((raw = malloc(len ? len : 1)) == NULL ||
	    read_at(fd, dyn->offset, raw, len, size) < 0)
		goto out;
	for (size_t i = 0; i + entsize <= len; i += entsize) {
		int64_t tag;
		uint64_t val;

		if (class64) {
			Elf64_Dyn e;

			memcpy(&e, raw + i, sizeof(e));
			tag = e.d_tag;
			val = e.d_un.d_val;
		} else {
			Elf32_Dyn e;

			memcpy(&e, raw + i, sizeof(e));
			tag = e.d_tag;
			val = e.d_un.d_val;
		}
		if (tag == DT_NULL)
			break;
		if (tag == DT_STRTAB)
			strtab = val;
		else if (tag == DT_STRSZ)
			strsz = val;
		else if (tag == DT_NEEDED && count < NEEDED_MAX)
			needed[count++] = val;
	}
	if (count == 0) {
		rc = 0;
		goto out;
	}
	if (strsz == 0 || strsz > STRTAB_BYTES_MAX ||
	    vaddr_to_offset(ph, n, strtab, &stroff) < 0 ||
	    (strings = malloc((size_t)strsz)) == NULL ||
	    read_at(fd, stroff, strings, (size_t)strsz, size) < 0)
		goto out;
	for (size_t i = 0; i < count; i++) {
		const char *s, *nul;

		if (needed[i] >= strsz)
			goto out;
		s = strings + needed[i];
		if ((nul = memchr(s, '\0', (size_t)(strsz - needed[i]))) == NULL)
			goto out;
		if (mts_strlist_addn(&d->needed, s, (size_t)(nul - s)) < 0)
			goto out;
		if (strncmp(s, "liburing.so", 11) == 0)
			d->liburing = 1;
	}
	rc = 0;
out:
	free(raw);
	free(strings);
	return rc;
}

/* Is there a Go build-information block at a 16-byte aligned offset of
 * buf (which starts at file offset base)? */
static int go_block_in(const char *buf, size_t len, uint64_t base)
{
	const char *p = buf, *end = buf + len;

	while ((p = memmem(p, (size_t)(end - p), go_buildinfo,
			   GO_MARK_LEN)) != NULL) {
		uint64_t off = base + (uint64_t)(p - buf);

		if (off % GO_ALIGN == 0 && (size_t)(end - p) > GO_MARK_LEN &&
		    (p[GO_MARK_LEN] == 4 || p[GO_MARK_LEN] == 8))
			return 1;
		p++;
	}
	return 0;
}

/* Scans the whole file for the Go block; chunks overlap by one block
 * header, so none is missed at a boundary. */
static int scan_go(int fd, off_t size)
{
	const size_t keep = GO_ALIGN * 2;
	char *buf = malloc(SCAN_CHUNK + keep);
	uint64_t off = 0, base = 0;	/* file offsets of the end, of buf */
	size_t have = 0;
	int found = 0;

	if (buf == NULL)
		return 0;
	while (!found && off < (uint64_t)size) {
		ssize_t n = pread(fd, buf + have, SCAN_CHUNK, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (uint64_t)n;
		have += (size_t)n;
		found = go_block_in(buf, have, base);
		if (have > keep) {
			memmove(buf, buf + have - keep, keep);
			base += have - keep;
			have = keep;
		}
	}
	free(buf);
	return found;
}

/* Reads the ELF facts of an open file. 0, or -1 (not ELF, unreadable:
 * a reason is added). */
static int read_elf(int fd, off_t size, struct diagnosis *d)
{
	union {
		unsigned char ident[EI_NIDENT];
		Elf64_Ehdr e64;
		Elf32_Ehdr e32;
	} h;
	static const union { uint16_t v; unsigned char b[2]; } host = { 1 };
	int host_data = host.b[0] == 1 ? ELFDATA2LSB : ELFDATA2MSB;
	struct phdr ph[PHDR_MAX];
	size_t n = 0, hlen;

	memset(&h, 0, sizeof(h));
	if (read_at(fd, 0, h.ident, EI_NIDENT, size) < 0 ||
	    memcmp(h.ident, ELFMAG, SELFMAG) != 0) {
		mts_strlist_add(&d->reasons, "neither an ELF program nor a "
					     "#! script");
		return -1;
	}
	d->is_elf = 1;
	if ((h.ident[EI_CLASS] != ELFCLASS64 &&
	     h.ident[EI_CLASS] != ELFCLASS32) ||
	    h.ident[EI_DATA] != host_data) {
		mts_strlist_add(&d->reasons, "an ELF file of another byte "
					     "order or class than this host's");
		return -1;
	}
	d->elf_class = h.ident[EI_CLASS] == ELFCLASS64 ? 64 : 32;
	hlen = d->elf_class == 64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (read_at(fd, 0, &h, hlen, size) < 0 ||
	    read_phdrs(fd, size, h.ident, &h, ph, &n) < 0) {
		mts_strlist_add(&d->reasons, "malformed ELF program headers");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (ph[i].type == PT_INTERP) {
			size_t l = ph[i].filesz < sizeof(d->interp) ?
					   (size_t)ph[i].filesz :
					   sizeof(d->interp) - 1;

			if (read_at(fd, ph[i].offset, d->interp, l, size) < 0)
				l = 0;
			d->interp[l] = '\0';
			d->interp[strnlen(d->interp, l)] = '\0';
			d->dynamic = 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (ph[i].type == PT_DYNAMIC &&
		    read_needed(fd, size, d->elf_class == 64, ph, n, &ph[i],
				d) < 0)
			mts_strlist_add(&d->warnings, "malformed dynamic "
						      "section: library list "
						      "incomplete");
	d->go = scan_go(fd, size);
	return 0;
}

/* ---- the diagnosis ---------------------------------------------------- */

static int has_capabilities(const char *path)
{
	return getxattr(path, "security.capability", NULL, 0) > 0;
}

/* Follows #! to the ELF program; fills d. 0, or 2 (exit status) when a
 * file cannot be opened. */
static int examine(struct diagnosis *d)
{
	char cur[PATH_MAX], interp[PATH_MAX], arg[SHEBANG_MAX];
	struct stat st;
	int fd = -1, depth;

	mts_strlcpy(cur, d->path, sizeof(cur));
	for (depth = 0;; depth++) {
		if ((fd = open(cur, O_RDONLY | O_CLOEXEC)) < 0 ||
		    fstat(fd, &st) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			if (depth == 0) {
				fprintf(stderr, "mtasts: doctor: %s: %s\n", cur,
					strerror(e));
				return EXIT_USAGE;
			}
			mts_strlist_add(&d->reasons, "the script's interpreter "
						     "cannot be opened");
			return 0;
		}
		if (read_shebang(fd, interp, sizeof(interp), arg,
				 sizeof(arg)) < 0)
			break;
		close(fd);
		fd = -1;
		if (depth + 1 >= SCRIPT_DEPTH_MAX) {
			mts_strlist_add(&d->reasons, "too many levels of #! "
						     "interpreters");
			return 0;
		}
		/* /usr/bin/env NAME: the NAME env will find in PATH. */
		if (strcmp(strrchr(interp, '/') ? strrchr(interp, '/') + 1 :
			   interp, "env") == 0 && arg[0] != '\0' &&
		    arg[0] != '-' && strchr(arg, ' ') == NULL) {
			mts_strlist_add(&d->scripts, interp);
			if (find_command(arg, interp, sizeof(interp)) < 0) {
				mts_strlist_add(&d->reasons, "the script's "
					"interpreter is not found in PATH");
				return 0;
			}
		}
		mts_strlist_add(&d->scripts, interp);
		mts_strlcpy(cur, interp, sizeof(cur));
	}
	mts_strlcpy(d->program, cur, sizeof(d->program));
	d->setuid = (st.st_mode & S_ISUID) != 0;
	d->setgid = (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP);
	d->caps = has_capabilities(cur);
	read_elf(fd, st.st_size, d);
	close(fd);
	return 0;
}

/* The reasons and warnings that follow from the facts. */
static void judge(struct diagnosis *d)
{
	if (!d->is_elf)
		return;		/* read_elf() said why */
	if (!d->dynamic)
		mts_strlist_add(&d->reasons, "statically linked: no dynamic "
					     "linker runs, LD_PRELOAD is never "
					     "read");
	if (d->go)
		mts_strlist_add(&d->reasons, "a Go program: the Go runtime "
					     "opens connections with its own "
					     "system calls, not through libc");
	if (d->setuid)
		mts_strlist_add(&d->reasons, "set-user-ID: the dynamic linker "
					     "ignores LD_PRELOAD in a "
					     "secure-execution process");
	if (d->setgid)
		mts_strlist_add(&d->reasons, "set-group-ID: the dynamic linker "
					     "ignores LD_PRELOAD in a "
					     "secure-execution process");
	if (d->caps)
		mts_strlist_add(&d->reasons, "file capabilities: the dynamic "
					     "linker ignores LD_PRELOAD in a "
					     "secure-execution process");
	if (d->liburing)
		mts_strlist_add(&d->warnings, "links liburing: io_uring_setup "
					      "fails with ENOSYS under the "
					      "library (MTASTS_ALLOW_IO_URING=1 "
					      "allows it, and leaves io_uring "
					      "connections uncovered)");
}

static int preload_honoured(const struct diagnosis *d)
{
	return d->is_elf && d->dynamic && !d->setuid && !d->setgid &&
	       !d->caps;
}

static void json_list(const char *name, const struct mts_strlist *l)
{
	printf(",\"%s\":[", name);
	for (size_t i = 0; i < l->count; i++) {
		if (i)
			putchar(',');
		cli_json_string(stdout, l->item[i]);
	}
	putchar(']');
}

static void print_json(const struct diagnosis *d)
{
	fputs("{\"command\":", stdout);
	cli_json_string(stdout, d->command);
	fputs(",\"path\":", stdout);
	cli_json_string(stdout, d->path);
	fputs(",\"program\":", stdout);
	cli_json_string(stdout, d->program);
	printf(",\"covered\":%s", d->reasons.count == 0 ? "true" : "false");
	json_list("scripts", &d->scripts);
	printf(",\"elf\":%s,\"linking\":", d->is_elf ? "true" : "false");
	cli_json_string(stdout, !d->is_elf ? "unknown" :
				d->dynamic ? "dynamic" : "static");
	fputs(",\"interpreter\":", stdout);
	cli_json_string(stdout, d->interp);
	json_list("needed", &d->needed);
	printf(",\"go\":%s,\"setuid\":%s,\"setgid\":%s,\"capabilities\":%s,"
	       "\"liburing\":%s,\"ld_preload_honoured\":%s",
	       d->go ? "true" : "false", d->setuid ? "true" : "false",
	       d->setgid ? "true" : "false", d->caps ? "true" : "false",
	       d->liburing ? "true" : "false",
	       preload_honoured(d) ? "true" : "false");
	json_list("reasons", &d->reasons);
	json_list("warnings", &d->warnings);
	puts("}");
}

static const char *yes_no(int v)
{
	return v ? "yes" : "no";
}

static void print_text(const struct diagnosis *d)
{
	printf("command: %s\n", d->command);
	printf("path: %s\n", d->path);
	for (size_t i = 0; i < d->scripts.count; i++)
		printf("script interpreter: %s\n", d->scripts.item[i]);
	if (d->scripts.count > 0)
		printf("program: %s\n", d->program);
	if (d->is_elf) {
		printf("format: ELF %d-bit, %s\n", d->elf_class,
		       d->dynamic ? "dynamically linked" : "statically linked");
		if (d->dynamic)
			printf("dynamic linker: %s\n", d->interp);
		for (size_t i = 0; i < d->needed.count; i++)
			printf("needs: %s\n", d->needed.item[i]);
		printf("go program: %s\n", yes_no(d->go));
		printf("set-user-ID: %s\nset-group-ID: %s\n"
		       "file capabilities: %s\n", yes_no(d->setuid),
		       yes_no(d->setgid), yes_no(d->caps));
		printf("links liburing: %s\n", yes_no(d->liburing));
	}
	printf("LD_PRELOAD honoured: %s\n", yes_no(preload_honoured(d)));
	for (size_t i = 0; i < d->warnings.count; i++)
		printf("warning: %s\n", d->warnings.item[i]);
	for (size_t i = 0; i < d->reasons.count; i++)
		printf("not covered: %s\n", d->reasons.item[i]);
	printf("covered: %s\n", yes_no(d->reasons.count == 0));
}

int cmd_doctor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct diagnosis d;
	int json = 0, c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			fputs(cli_usage_doctor, stdout);
			return 0;
		default:
			return cli_usage_error(cli_usage_doctor,
					       "doctor: bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cli_usage_doctor,
				       "doctor: one COMMAND or PATH expected");
	memset(&d, 0, sizeof(d));
	if (mts_strlcpy(d.command, argv[optind], sizeof(d.command)) >=
	    sizeof(d.command))
		return cli_usage_error(cli_usage_doctor, "doctor: name too long");
	if (find_command(d.command, d.path, sizeof(d.path)) < 0) {
		fprintf(stderr, "mtasts: doctor: %s: command not found%s\n",
			d.command, strchr(d.command, '/') ? "" : " in PATH");
		return EXIT_USAGE;
	}
	mts_strlcpy(d.program, d.path, sizeof(d.program));
	if ((rc = examine(&d)) != 0) {
		diagnosis_free(&d);
		return rc;
	}
	judge(&d);
	if (json)
		print_json(&d);
	else
		print_text(&d);
	rc = d.reasons.count == 0 ? 0 : EXIT_NEGATIVE;
	diagnosis_free(&d);
	return rc;
}
