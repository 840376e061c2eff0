/* kvtest.h: helpers shared by the differential syscall test programs.
 * Every program prints only what is deterministic, so that a native run and a
 * kvsentry run of it produce identical output. */
#ifndef KVTEST_H
#define KVTEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* errname returns the symbolic name of an errno value (errno(3)). */
static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case ENOEXEC: return "ENOEXEC";
	case E2BIG: return "E2BIG";
	case EBUSY: return "EBUSY";
	}
	static char buf[32];
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

/* CHECK prints "label: ret=R ERRNAME" for a call returning -1 on error. */
#define CHECK(label, expr) do { \
	errno = 0; \
	long r_ = (long)(expr); \
	printf("%s: ret=%ld %s\n", (label), r_, r_ < 0 ? errname(errno) : "OK"); \
} while (0)

/* SAY prints a labelled integer. */
#define SAY(label, val) printf("%s: %ld\n", (label), (long)(val))

#endif
