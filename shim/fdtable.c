/*
 * fdtable.c - which fds are relayed connections, and what they emulate
 *
 * SYNOPSIS
 *	if (mts_fd_live() && mts_fd_get(fd, &conn)) ... emulate TCP ...
 *
 * DESCRIPTION
 *	A relayed fd is the application's end of its channel to the relay (a
 *	loopback TCP connection, or an AF_UNIX socketpair: loopback.c) that
 *	took the place of the application's TCP socket. This table
 *	remembers, per relayed connection, what the TCP socket would answer
 *	(peer, local address, options) and which fd numbers refer to it.
 *
 *	Connections live in a fixed pool (no malloc or free here, so close()
 *	from a signal handler cannot land in the allocator); an fd map,
 *	indexed by fd number and grown with mmap(), points into the pool.
 *	Each mapping holds one reference; close, dup, dup2, dup3 and
 *	fcntl(F_DUPFD*) keep the mappings right, and a connection is freed
 *	when its last mapping goes.
 *
 *	fd numbers are recycled behind our back (the C library and others
 *	close fds where no hook sees it; close_range()), so an entry is
 *	never trusted by number alone: mts_fd_get() checks with fstat() that
 *	the fd still is the very socket (st_dev, st_ino) we installed, drops
 *	the mapping when it is not, and finds a connection by inode when an
 *	fd reached it through a path no hook saw. When the pool is full,
 *	stale mappings are collected the same way.
 *
 *	One mutex, held for memory work only (and the rare mmap or fstat
 *	sweep when something must grow or be collected). While it is held
 *	the thread's guard is set, so a signal handler that closes an fd on
 *	this thread goes straight to libc instead of deadlocking.
 *
 * BUGS
 *	A vfork() child shares our memory: if it closes a relayed fd before
 *	exec, the parent forgets that fd (it then shows its loopback
 *	addresses, or AF_UNIX on the fallback).
 */
#include "shim.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define MTS_CONN_MAX 512
#define MTS_FDMAP_MIN 1024
#define MTS_FDMAP_LIMIT (1u << 24)

struct conn_slot {
	int used;
	unsigned refs;			/* fd mappings pointing here */
	struct mts_conn c;
};

static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn_slot slots[MTS_CONN_MAX];
static unsigned slots_high;		/* slots beyond this are unused */
static int live;			/* used slots; read without the lock */
static uint16_t *fdmap;			/* fd -> slot index + 1 */
static size_t fdmap_len;

static void lock(void)
{
	mts_in_shim++;
	pthread_mutex_lock(&fd_lock);
}

static void unlock(void)
{
	pthread_mutex_unlock(&fd_lock);
	mts_in_shim--;
}

int mts_fd_live(void)
{
	return __atomic_load_n(&live, __ATOMIC_ACQUIRE) != 0;
}

static int same_file(const struct mts_conn *c, const struct stat *st)
{
	return c->dev == st->st_dev && c->ino == st->st_ino;
}

/* Caller holds the lock. Makes fdmap[fd] addressable. 0 or -errno. */
static int fdmap_reserve(int fd)
{
	size_t len = fdmap_len ? fdmap_len : MTS_FDMAP_MIN;
	uint16_t *map;

	if (fd < 0 || (unsigned)fd >= MTS_FDMAP_LIMIT)
		return -EMFILE;
	if ((size_t)fd < fdmap_len)
		return 0;
	while (len <= (size_t)fd)
		len *= 2;
	map = mmap(NULL, len * sizeof(*map), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	if (fdmap != NULL) {
		memcpy(map, fdmap, fdmap_len * sizeof(*map));
		munmap(fdmap, fdmap_len * sizeof(*map));
	}
	fdmap = map;
	fdmap_len = len;
	return 0;
}

/* Caller holds the lock. The slot index fd maps to, or -1. */
static int fdmap_get(int fd)
{
	if (fd < 0 || (size_t)fd >= fdmap_len || fdmap[fd] == 0)
		return -1;
	return fdmap[fd] - 1;
}

/* Caller holds the lock. Removes fd's mapping, freeing an orphan slot. */
static void fdmap_drop(int fd)
{
	int i = fdmap_get(fd);

	if (i < 0)
		return;
	fdmap[fd] = 0;
	if (--slots[i].refs == 0) {
		slots[i].used = 0;
		__atomic_sub_fetch(&live, 1, __ATOMIC_RELEASE);
	}
}

/* Caller holds the lock and has reserved fd. */
static void fdmap_set(int fd, int i)
{
	if (fdmap_get(fd) == i)
		return;
	fdmap_drop(fd);
	fdmap[fd] = (uint16_t)(i + 1);
	slots[i].refs++;
}

/* Caller holds the lock. The used slot for this file, or -1. */
static int slot_by_file(const struct stat *st)
{
	for (unsigned i = 0; i < slots_high; i++)
		if (slots[i].used && same_file(&slots[i].c, st))
			return (int)i;
	return -1;
}

/* Caller holds the lock. Drops every mapping whose fd is no longer the
 * socket it was (closed where no hook saw it). Only when the pool is
 * full: it costs one fstat() per mapped fd. */
static void collect_stale(void)
{
	struct stat st;

	for (size_t fd = 0; fd < fdmap_len; fd++) {
		int i = fdmap_get((int)fd);

		if (i < 0)
			continue;
		if (fstat((int)fd, &st) < 0 || !same_file(&slots[i].c, &st))
			fdmap_drop((int)fd);
	}
}

/* Caller holds the lock. A free slot, or -1. */
static int slot_alloc(void)
{
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < MTS_CONN_MAX; i++) {
			if (slots[i].used)
				continue;
			if (i >= slots_high)
				slots_high = i + 1;
			return (int)i;
		}
		collect_stale();
	}
	return -1;
}

int mts_fd_insert(int fd, const struct mts_conn *c)
{
	int i, rc;

	lock();
	if ((rc = fdmap_reserve(fd)) < 0)
		goto out;
	if ((i = slot_alloc()) < 0) {
		rc = -ENOSPC;
		goto out;
	}
	slots[i].c = *c;
	slots[i].used = 1;
	slots[i].refs = 0;
	__atomic_add_fetch(&live, 1, __ATOMIC_RELEASE);
	fdmap_set(fd, i);
	rc = 0;
out:
	unlock();
	return rc;
}

int mts_fd_get(int fd, struct mts_conn *out)
{
	struct stat st;
	int i, found = 0;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		lock();
		fdmap_drop(fd);		/* recycled, or closed behind us */
		unlock();
		return 0;
	}
	lock();
	i = fdmap_get(fd);
	if (i >= 0 && !same_file(&slots[i].c, &st)) {
		fdmap_drop(fd);
		i = -1;
	}
	if (i < 0 && (i = slot_by_file(&st)) >= 0) {
		/* Reached through a path no hook saw (fcntl via syscall(),
		 * an fd passed to ourselves...): map it now. */
		if (fdmap_reserve(fd) == 0)
			fdmap_set(fd, i);
	}
	if (i >= 0) {
		*out = slots[i].c;
		found = 1;
	}
	unlock();
	return found;
}

void mts_fd_set_opt(int fd, int level, int name, int value)
{
	struct mts_conn *c;
	int i;

	lock();
	if ((i = fdmap_get(fd)) < 0)
		goto out;
	c = &slots[i].c;
	for (unsigned k = 0; k < c->nopt; k++) {
		if (c->opt[k].level == level && c->opt[k].name == name) {
			c->opt[k].value = value;
			goto out;
		}
	}
	if (c->nopt < MTS_OPT_SLOTS) {
		c->opt[c->nopt].level = level;
		c->opt[c->nopt].name = name;
		c->opt[c->nopt].value = value;
		c->nopt++;
	}
out:
	unlock();
}

void mts_fd_closed(int fd)
{
	lock();
	fdmap_drop(fd);
	unlock();
}

void mts_fd_duped(int oldfd, int newfd)
{
	struct stat st;
	int i;

	if (fstat(newfd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		lock();
		fdmap_drop(newfd);	/* dup2() closed whatever was there */
		unlock();
		return;
	}
	lock();
	fdmap_drop(newfd);
	i = fdmap_get(oldfd);
	if (i < 0 || !same_file(&slots[i].c, &st))
		i = slot_by_file(&st);
	if (i >= 0 && fdmap_reserve(newfd) == 0)
		fdmap_set(newfd, i);
	unlock();
}

void mts_fd_atfork_prepare(void)
{
	pthread_mutex_lock(&fd_lock);
}

void mts_fd_atfork_parent(void)
{
	pthread_mutex_unlock(&fd_lock);
}

void mts_fd_atfork_child(void)
{
	pthread_mutex_init(&fd_lock, NULL);
}
