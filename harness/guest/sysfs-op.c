/*
 * sysfs-op: perform exactly ONE file operation and print one parseable line.
 *
 *   sysfs-op write PATH VALUE     open(O_WRONLY), one write(2) of VALUE "\n"
 *   sysfs-op raw   PATH VALUE     open(O_WRONLY), one write(2) of VALUE exactly
 *                                  (an empty VALUE is a zero-byte write)
 *   sysfs-op read  PATH            open(O_RDONLY), read(2) until EOF
 *
 * With -x before the mode (sysfs-op -x write HEXPATH HEXVALUE), PATH and VALUE
 * are hex-encoded bytes ("-" = empty), so any byte string survives the shell.
 *
 * Output, one line on stdout:
 *   RESULT ok                          write: every byte accepted
 *   RESULT ok <base64>                 read: the bytes read ("" => "RESULT ok =")
 *   RESULT short-write <n> <len>       write(2) returned 0 <= n < len
 *   RESULT open-error <ERRNO>          open(2) failed
 *   RESULT write-error <ERRNO>         write(2) failed
 *   RESULT read-error <ERRNO> <base64> read(2) failed (bytes read before it)
 *   RESULT usage-error -
 * Exit status is 0 for ok, 1 otherwise.
 *
 * Environment SYSFS_OP_TIMEOUT=<seconds> (default 30) arms SIGALRM with a
 * no-op handler installed without SA_RESTART, so a write stuck in the kernel
 * (e.g. an offline that keeps retrying migration) sees a pending signal and
 * returns EINTR instead of hanging the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef EHWPOISON
#define EHWPOISON 133
#endif

static const char *errname(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case EDOM: return "EDOM";
	case ERANGE: return "ERANGE";
	case EDEADLK: return "EDEADLK";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENODATA: return "ENODATA";
	case EOVERFLOW: return "EOVERFLOW";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EADDRINUSE: return "EADDRINUSE";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case ECANCELED: return "ECANCELED";
	case EHWPOISON: return "EHWPOISON";
	/* kernel-internal codes that can leak to user space */
	case 512: return "ERESTARTSYS";
	case 517: return "EPROBE_DEFER";
	case 524: return "ENOTSUPP";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "E%d", e);
		return buf;
	}
	}
}

static void put_b64(const unsigned char *p, size_t n)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	if (n == 0) {
		fputs("=", stdout); /* marker for the empty string */
		return;
	}
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = p[i] << 16 | p[i + 1] << 8 | p[i + 2];
		putchar(t[v >> 18 & 63]); putchar(t[v >> 12 & 63]);
		putchar(t[v >> 6 & 63]); putchar(t[v & 63]);
	}
	if (n - i == 1) {
		unsigned v = p[i] << 16;
		putchar(t[v >> 18 & 63]); putchar(t[v >> 12 & 63]);
		fputs("==", stdout);
	} else if (n - i == 2) {
		unsigned v = p[i] << 16 | p[i + 1] << 8;
		putchar(t[v >> 18 & 63]); putchar(t[v >> 12 & 63]);
		putchar(t[v >> 6 & 63]); putchar('=');
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* decode hex in place; "-" means empty; returns length or -1 */
static long unhex(char *s)
{
	size_t n = strlen(s), i;

	if (strcmp(s, "-") == 0) {
		s[0] = 0;
		return 0;
	}
	if (n % 2)
		return -1;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		s[i] = (char)(hi << 4 | lo);
	}
	s[n / 2] = 0;
	return (long)(n / 2);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static int usage(void)
{
	puts("RESULT usage-error -");
	return 1;
}

/*
 * One operation; prints the RESULT line on stdout.  Also called by
 * harness/guest/ddx.c (which includes this file with SYSFS_OP_NO_MAIN) for
 * the sysfs events of a log with program events.
 */
static int sysfs_op(int argc, char **argv)
{
	int hex = 0, fd;
	const char *mode;
	char *path, *val = NULL;
	size_t vlen = 0;

	struct sigaction sa;
	const char *tmo = getenv("SYSFS_OP_TIMEOUT");

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: interrupted syscalls fail */
	sigaction(SIGALRM, &sa, NULL);
	alarm(tmo ? (unsigned)atoi(tmo) : 30);
	if (argc > 1 && strcmp(argv[1], "-x") == 0) {
		hex = 1;
		argv++;
		argc--;
	}
	if (argc < 3)
		return usage();
	mode = argv[1];
	path = argv[2];
	if (hex && unhex(path) < 0)
		return usage();

	if (strcmp(mode, "read") == 0) {
		size_t cap = 1 << 16, len = 0;
		unsigned char *buf = malloc(cap);
		ssize_t r;

		if (argc != 3 || !buf)
			return usage();
		fd = open(path, O_RDONLY);
		if (fd < 0) {
			printf("RESULT open-error %s\n", errname(errno));
			return 1;
		}
		for (;;) {
			if (len == cap) {
				cap *= 2;
				buf = realloc(buf, cap);
				if (!buf)
					return usage();
			}
			r = read(fd, buf + len, cap - len);
			if (r < 0) {
				int e = errno;
				printf("RESULT read-error %s ", errname(e));
				put_b64(buf, len);
				putchar('\n');
				return 1;
			}
			if (r == 0)
				break;
			len += (size_t)r;
		}
		close(fd);
		fputs("RESULT ok ", stdout);
		put_b64(buf, len);
		putchar('\n');
		return 0;
	}

	if (strcmp(mode, "write") == 0 || strcmp(mode, "raw") == 0) {
		char *buf;
		ssize_t w;

		if (argc != 4)
			return usage();
		val = argv[3];
		if (hex) {
			long l = unhex(val);
			if (l < 0)
				return usage();
			vlen = (size_t)l;
		} else {
			vlen = strlen(val);
		}
		buf = malloc(vlen + 2);
		if (!buf)
			return usage();
		memcpy(buf, val, vlen);
		if (strcmp(mode, "write") == 0)
			buf[vlen++] = '\n';
		fd = open(path, O_WRONLY);
		if (fd < 0) {
			printf("RESULT open-error %s\n", errname(errno));
			return 1;
		}
		w = write(fd, buf, vlen);
		if (w < 0) {
			int e = errno;
			close(fd);
			printf("RESULT write-error %s\n", errname(e));
			return 1;
		}
		if (close(fd) < 0) {
			printf("RESULT close-error %s\n", errname(errno));
			return 1;
		}
		if ((size_t)w != vlen) {
			printf("RESULT short-write %zd %zu\n", w, vlen);
			return 1;
		}
		puts("RESULT ok");
		return 0;
	}
	return usage();
}

#ifndef SYSFS_OP_NO_MAIN
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	return sysfs_op(argc, argv);
}
#endif
