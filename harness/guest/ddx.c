/*
 * ddx: perform every event of one memhp log (format 2, SPEC §7) in order, in
 * one process tree, so files and mappings live across the sysfs writes made
 * in between (harness/guest/init runs it instead of sysfs-op when the log has
 * program events).
 *
 *   ddx OPS_FILE          (stdout: the @@MEMHP protocol port, ttyS1)
 *
 * The coordinator (this process) performs the sysfs events itself, with
 * sysfs-op.c's code (included below), and reads /proc/<handle>/{maps,smaps}
 * of the real process a pid handle names. Each pid handle is a real process,
 * a "worker", that receives its steps over a socket: a handle's first use
 * forks a fresh worker from the coordinator; `fork P C` makes worker P call
 * fork(2), so C inherits P's fds and mappings as the kernel copies them, and
 * hands C's socket to the coordinator (SCM_RIGHTS); `exit P` ends it, and the
 * coordinator waits until the process is a zombie (its files and mappings are
 * released: exit_mm, exit_files and the deferred fputs precede exit_notify).
 * A worker keeps the log's handles: an fd handle names the fd its last
 * successful open returned (a later open under the same handle replaces it
 * dup2-like: the old file is closed); a map handle names the address its last
 * successful mmap returned (mremap: the new address minus the event's
 * offset), 0 if none, as src/kernel/mm/ does.
 *
 * Input lines: `<seq> write|raw|read <hexpath> <hexvalue or ->` as for
 * sysfs-op, or `<seq> <program event> <args>` (src/realkernel/protocol.ts
 * writes them; strings hex-encoded, numbers decimal):
 *   open P F PATH FLAGS       FLAGS rdonly|wronly|rdwr[+sync]
 *   close P F
 *   mmap P M F LEN OFF PROT FLAGS AMAP AOFF   F -|handle (- : MAP_ANONYMOUS), PROT none|r|rw, FLAGS a,b|-, AMAP -|handle
 *   munmap P M OFF LEN / mprotect P M OFF LEN PROT / madvise P M OFF LEN ADVICE
 *   mremap P M OFF LEN NEWLEN FLAGS AMAP AOFF
 *   access|procmem P M OFF read|write VALUE
 *   pread P F OFF LEN / pwrite P F OFF LEN VALUE   (O_DIRECT block I/O)
 *   ioctl P F CMD START LEN   BLKDISCARD|BLKZEROOUT on uint64_t range[2]
 *   dmirror P F CMD AMAP AOFF PMAP POFF NPAGES   (test_hmm's HMM_DMIRROR_* on
 *                             struct hmm_dmirror_cmd, lib/test_hmm_uapi.h of
 *                             6.1; PMAP - is ptr NULL; answers RESULT out
 *                             cpages=N faults=M, or the errno)
 *   fork P C / exit P
 *   swapon PATH / swapoff PATH   (no pid: the coordinator calls swapon(2) with
 *                                 flags 0 / swapoff(2); init prepared the areas)
 * Output: `@@MEMHP OP <seq> <mode> -`, `@@MEMHP RES <seq> RESULT ...` and the
 * kernel's messages since the previous step as `@@MEMHP KLOG <seq> ...`.
 * RESULT lines beyond sysfs-op's: `RESULT ok`, `RESULT value 0x..` (a read
 * word, an mmap/mremap address), `RESULT errno ENAME`, `RESULT signal SIGBUS
 * BUS_ADRERR`, `RESULT died <wait status>` (the worker died inside a system
 * call: a kernel oops; the run stops there and the host takes the oops line
 * from the kernel's messages).
 *
 * User ASLR is off (personality ADDR_NO_RANDOMIZE, re-exec) so addresses are
 * reproducible; the console log level is raised to 2 (KERN_ALERT) so an
 * oops's "BUG: ..." line reaches the console even when the kernel hangs.
 */
#define _GNU_SOURCE
#define SYSFS_OP_NO_MAIN
#include "sysfs-op.c"

#include <poll.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif

#define MAXH 64
#define MAXW 24

/* ------------------------------------------------------------ small helpers */

static void die(const char *what)
{
	printf("@@MEMHP RES 0 RESULT ddx-error %s\n", what);
	fflush(stdout);
	exit(2);
}

/* a hex-encoded string argument, decoded into a fresh buffer */
static char *hexarg(const char *s)
{
	char *b = strdup(s);

	if (!b || unhex(b) < 0)
		die("bad-hex-argument");
	return b;
}

static unsigned long long num(const char *s)
{
	return strtoull(s, NULL, 0);
}

struct handle {
	char name[64];
	long long v;
};

static long long hget(struct handle *t, const char *name, long long dflt)
{
	int i;

	for (i = 0; i < MAXH; i++)
		if (t[i].name[0] && strcmp(t[i].name, name) == 0)
			return t[i].v;
	return dflt;
}

static void hset(struct handle *t, const char *name, long long v)
{
	int i, free_at = -1;

	for (i = 0; i < MAXH; i++) {
		if (t[i].name[0] && strcmp(t[i].name, name) == 0) {
			t[i].v = v;
			return;
		}
		if (!t[i].name[0] && free_at < 0)
			free_at = i;
	}
	if (free_at < 0 || strlen(name) >= sizeof t[0].name)
		die("too-many-handles");
	snprintf(t[free_at].name, sizeof t[free_at].name, "%s", name);
	t[free_at].v = v;
}

static void hdel(struct handle *t, const char *name)
{
	int i;

	for (i = 0; i < MAXH; i++)
		if (t[i].name[0] && strcmp(t[i].name, name) == 0)
			t[i].name[0] = 0;
}

static int split(char *line, char **w)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \n", &save); tok && n < MAXW; tok = strtok_r(NULL, " \n", &save))
		w[n++] = tok;
	return n;
}

/* one line from a stream socket (no buffering beyond the line) */
static int readline(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return (int)n;
}

static void writeall(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* ------------------------------------------------------------ the worker */

static struct handle fds[MAXH];  /* fd handle -> fd, -1 after close */
static struct handle maps[MAXH]; /* map handle -> address */
static int chan = -1;            /* this worker's socket to the coordinator */

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig, got_code;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	siglongjmp(jb, 1);
}

static const char *codename(int sig, int code)
{
	static char buf[32];

	if (sig == SIGBUS) {
		switch (code) {
		case BUS_ADRALN: return "BUS_ADRALN";
		case BUS_ADRERR: return "BUS_ADRERR";
		case BUS_OBJERR: return "BUS_OBJERR";
		case BUS_MCEERR_AR: return "BUS_MCEERR_AR";
		case BUS_MCEERR_AO: return "BUS_MCEERR_AO";
		}
	} else if (sig == SIGSEGV) {
		switch (code) {
		case SEGV_MAPERR: return "SEGV_MAPERR";
		case SEGV_ACCERR: return "SEGV_ACCERR";
		case 4: return "SEGV_PKUERR";
		}
	}
	snprintf(buf, sizeof buf, "code%d", code);
	return buf;
}

static void reply_errno(char *out, size_t cap, int e)
{
	snprintf(out, cap, "RESULT errno %s", errname(e));
}

static int protbits(const char *p)
{
	if (strcmp(p, "r") == 0)
		return PROT_READ;
	if (strcmp(p, "rw") == 0)
		return PROT_READ | PROT_WRITE;
	return PROT_NONE;
}

static int mapflags(const char *list)
{
	char *l = strdup(list), *save = NULL, *t;
	int f = 0;

	if (!l)
		die("oom");
	for (t = strtok_r(l, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "shared") == 0) f |= MAP_SHARED;
		else if (strcmp(t, "private") == 0) f |= MAP_PRIVATE;
		else if (strcmp(t, "validate") == 0) f |= MAP_SHARED_VALIDATE;
		else if (strcmp(t, "sync") == 0) f |= MAP_SYNC;
		else if (strcmp(t, "populate") == 0) f |= MAP_POPULATE;
		else if (strcmp(t, "fixed") == 0) f |= MAP_FIXED;
		else if (strcmp(t, "maymove") == 0) f |= MREMAP_MAYMOVE;
		else if (strcmp(t, "-") != 0) die("bad-flag");
	}
	free(l);
	return f;
}

static int advice(const char *a)
{
	if (strcmp(a, "hugepage") == 0) return MADV_HUGEPAGE;
	if (strcmp(a, "nohugepage") == 0) return MADV_NOHUGEPAGE;
	if (strcmp(a, "dontneed") == 0) return MADV_DONTNEED;
	if (strcmp(a, "dontfork") == 0) return MADV_DONTFORK;
	if (strcmp(a, "dofork") == 0) return MADV_DOFORK;
	if (strcmp(a, "hwpoison") == 0) return MADV_HWPOISON;
	if (strcmp(a, "soft_offline") == 0) return MADV_SOFT_OFFLINE;
	die("bad-advice");
	return 0;
}

static uintptr_t mapaddr(const char *hexname)
{
	char *n = hexarg(hexname);
	uintptr_t a = (uintptr_t)hget(maps, n, 0);

	free(n);
	return a;
}

static int fdof(const char *hexname)
{
	char *n = hexarg(hexname);
	int fd = (int)hget(fds, n, -1);

	free(n);
	return fd;
}

/* An `access`: one aligned 64-bit load or store, a fatal signal caught. */
static void do_access(char *out, size_t cap, uintptr_t a, int write, unsigned long long val)
{
	struct sigaction sa, obus, osegv;
	volatile unsigned long long v = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	if (sigsetjmp(jb, 1) == 0) {
		if (write)
			*(volatile unsigned long long *)a = val;
		else
			v = *(volatile unsigned long long *)a;
		if (write)
			snprintf(out, cap, "RESULT ok");
		else
			snprintf(out, cap, "RESULT value 0x%llx", (unsigned long long)v);
	} else {
		snprintf(out, cap, "RESULT signal %s %s", got_sig == SIGBUS ? "SIGBUS" : got_sig == SIGSEGV ? "SIGSEGV" : "SIG?",
			 codename(got_sig, got_code));
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
}

/* A `procmem`: the same word through /proc/self/mem (get_user_pages). */
static void do_procmem(char *out, size_t cap, uintptr_t a, int write, unsigned long long val)
{
	int fd = open("/proc/self/mem", O_RDWR);
	unsigned long long v = 0;
	ssize_t r;

	if (fd < 0) {
		reply_errno(out, cap, errno);
		return;
	}
	r = write ? pwrite(fd, &val, sizeof val, (off_t)a) : pread(fd, &v, sizeof v, (off_t)a);
	if (r < 0) {
		int e = errno;
		reply_errno(out, cap, e);
	} else if (r != (ssize_t)sizeof v) {
		snprintf(out, cap, "RESULT short %zd", r);
	} else if (write) {
		snprintf(out, cap, "RESULT ok");
	} else {
		snprintf(out, cap, "RESULT value 0x%llx", v);
	}
	close(fd);
}

/* Sends fd over the socket s (SCM_RIGHTS) with one byte of data. */
static void sendfd(int s, int fd)
{
	struct msghdr m;
	struct iovec io;
	char c = 'F';
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct cmsghdr *cm;

	memset(&m, 0, sizeof m);
	memset(&u, 0, sizeof u);
	io.iov_base = &c;
	io.iov_len = 1;
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	if (sendmsg(s, &m, 0) != 1)
		die("sendmsg");
}

/* lib/test_hmm_uapi.h (Debian linux-source-6.1, 6.1.192): the dmirror commands. */
struct hmm_dmirror_cmd {
	uint64_t addr;
	uint64_t ptr;
	uint64_t npages;
	uint64_t cpages;
	uint64_t faults;
};

static unsigned long dmirror_cmd(const char *name)
{
	static const char *const names[] = { "HMM_DMIRROR_READ", "HMM_DMIRROR_WRITE", "HMM_DMIRROR_MIGRATE_TO_DEV",
					     "HMM_DMIRROR_MIGRATE_TO_SYS", "HMM_DMIRROR_SNAPSHOT", "HMM_DMIRROR_EXCLUSIVE",
					     "HMM_DMIRROR_CHECK_EXCLUSIVE", "HMM_DMIRROR_RELEASE" };
	unsigned long i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return _IOWR('H', i, struct hmm_dmirror_cmd);
	die("bad-dmirror-cmd");
	return 0;
}

static int recvfd(int s)
{
	struct msghdr m;
	struct iovec io;
	char c;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct cmsghdr *cm;
	int fd = -1;

	memset(&m, 0, sizeof m);
	io.iov_base = &c;
	io.iov_len = 1;
	m.msg_iov = &io;
	m.msg_iovlen = 1;
	m.msg_control = u.buf;
	m.msg_controllen = sizeof u.buf;
	if (recvmsg(s, &m, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

/*
 * pread/pwrite of a log (SPEC 7) on an O_DIRECT fd: a write stores `value` in
 * every 64-bit word and answers the byte count; a read answers the words as
 * the model prints them: "0xV" when all are V, else runs "0xV*N,0xW*M" in
 * address order, "-" for no bytes (at or past the end).
 */
static void do_blockio(char *out, size_t cap, int fd, unsigned long long off, unsigned long long len, int wr, unsigned long long value)
{
	uint64_t *buf = NULL;
	ssize_t got;
	size_t i, words, at = 0;

	if (len > (64u << 20) || posix_memalign((void **)&buf, 4096, len == 0 ? 4096 : len) != 0) {
		snprintf(out, cap, "RESULT ddx-error blockio-buffer");
		return;
	}
	if (wr)
		for (i = 0; i < len / 8; i++)
			buf[i] = value;
	got = wr ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (got < 0) {
		reply_errno(out, cap, errno);
		free(buf);
		return;
	}
	if (wr) {
		snprintf(out, cap, "RESULT value 0x%llx", (unsigned long long)got);
		free(buf);
		return;
	}
	words = (size_t)got / 8;
	if (words == 0) {
		snprintf(out, cap, "RESULT value -");
		free(buf);
		return;
	}
	at = (size_t)snprintf(out, cap, "RESULT value ");
	for (i = 0; i < words;) {
		size_t j = i;

		while (j < words && buf[j] == buf[i])
			j++;
		if (i == 0 && j == words)
			at += (size_t)snprintf(out + at, cap > at ? cap - at : 0, "0x%llx", (unsigned long long)buf[i]);
		else
			at += (size_t)snprintf(out + at, cap > at ? cap - at : 0, "%s0x%llx*%zu", i == 0 ? "" : ",", (unsigned long long)buf[i], j - i);
		i = j;
	}
	if (at >= cap)
		snprintf(out, cap, "RESULT ddx-error read-too-varied");
	free(buf);
}

/* One step in a worker; the reply line goes into out. */
static void worker_step(char **w, int n, char *out, size_t cap)
{
	const char *t = w[0];

	errno = 0;
	if (strcmp(t, "open") == 0 && n == 5) {
		char *path = hexarg(w[3]), *name = hexarg(w[2]);
		int fl = strncmp(w[4], "rdonly", 6) == 0 ? O_RDONLY : strncmp(w[4], "wronly", 6) == 0 ? O_WRONLY : O_RDWR;
		int fd, old;

		if (strstr(w[4], "+sync"))
			fl |= O_SYNC;
		/* Block devices (the kmem persistence RFC's /dev/kmemN) are opened for direct I/O: no page cache. */
		if (strncmp(path, "/dev/kmem", 9) == 0)
			fl |= O_DIRECT;
		fd = open(path, fl);
		if (fd < 0) {
			reply_errno(out, cap, errno);
		} else {
			old = (int)hget(fds, name, -1);
			if (old >= 0) {
				/* dup2-like: the handle keeps its number, the old file is closed */
				dup2(fd, old);
				close(fd);
				fd = old;
			}
			hset(fds, name, fd);
			snprintf(out, cap, "RESULT ok");
		}
		free(path);
		free(name);
	} else if (strcmp(t, "close") == 0 && n == 3) {
		char *name = hexarg(w[2]);
		int fd = (int)hget(fds, name, -1);

		if (close(fd) < 0) {
			reply_errno(out, cap, errno);
		} else {
			hdel(fds, name);
			snprintf(out, cap, "RESULT ok");
		}
		free(name);
	} else if (strcmp(t, "mmap") == 0 && n == 10) {
		char *name = hexarg(w[2]);
		/* F "-": an anonymous mapping (the log's "fd": null): MAP_ANONYMOUS with fd -1. */
		int anon = strcmp(w[3], "-") == 0;
		int fd = anon ? -1 : fdof(w[3]);
		int fl = mapflags(w[7]) | (anon ? MAP_ANONYMOUS : 0);
		uintptr_t hint = strcmp(w[8], "-") == 0 ? 0 : mapaddr(w[8]) + (uintptr_t)num(w[9]);
		void *p = mmap((void *)hint, (size_t)num(w[4]), protbits(w[6]), fl, fd, (off_t)num(w[5]));

		if (p == MAP_FAILED) {
			reply_errno(out, cap, errno);
		} else {
			hset(maps, name, (long long)(uintptr_t)p);
			snprintf(out, cap, "RESULT value 0x%llx", (unsigned long long)(uintptr_t)p);
		}
		free(name);
	} else if ((strcmp(t, "munmap") == 0 && n == 5) || (strcmp(t, "mprotect") == 0 && n == 6) ||
		   (strcmp(t, "madvise") == 0 && n == 6)) {
		void *a = (void *)(mapaddr(w[2]) + (uintptr_t)num(w[3]));
		size_t len = (size_t)num(w[4]);
		int rc = t[1] == 'u' ? munmap(a, len) : t[1] == 'p' ? mprotect(a, len, protbits(w[5])) : madvise(a, len, advice(w[5]));

		if (rc < 0)
			reply_errno(out, cap, errno);
		else
			snprintf(out, cap, "RESULT ok");
	} else if (strcmp(t, "mremap") == 0 && n == 9) {
		char *name = hexarg(w[2]);
		uintptr_t off = (uintptr_t)num(w[3]);
		void *a = (void *)(mapaddr(w[2]) + off);
		int fl = 0;
		void *na = NULL, *p;

		if (strstr(w[6], "maymove"))
			fl |= MREMAP_MAYMOVE;
		if (strstr(w[6], "fixed"))
			fl |= MREMAP_FIXED;
		if (strcmp(w[7], "-") != 0)
			na = (void *)(mapaddr(w[7]) + (uintptr_t)num(w[8]));
		p = mremap(a, (size_t)num(w[4]), (size_t)num(w[5]), fl, na);
		if (p == MAP_FAILED) {
			reply_errno(out, cap, errno);
		} else {
			hset(maps, name, (long long)((uintptr_t)p - off));
			snprintf(out, cap, "RESULT value 0x%llx", (unsigned long long)(uintptr_t)p);
		}
		free(name);
	} else if ((strcmp(t, "access") == 0 || strcmp(t, "procmem") == 0) && n == 6) {
		uintptr_t a = mapaddr(w[2]) + (uintptr_t)num(w[3]);
		int wr = strcmp(w[4], "write") == 0;

		if (t[0] == 'a')
			do_access(out, cap, a, wr, num(w[5]));
		else
			do_procmem(out, cap, a, wr, num(w[5]));
	} else if ((strcmp(t, "pread") == 0 && n == 5) || (strcmp(t, "pwrite") == 0 && n == 6)) {
		do_blockio(out, cap, fdof(w[2]), num(w[3]), num(w[4]), t[1] == 'w', n == 6 ? num(w[5]) : 0);
	} else if (strcmp(t, "ioctl") == 0 && n == 6) {
		uint64_t range[2] = { num(w[4]), num(w[5]) };
		int rc = ioctl(fdof(w[2]), strcmp(w[3], "BLKZEROOUT") == 0 ? BLKZEROOUT : BLKDISCARD, range);

		if (rc < 0)
			reply_errno(out, cap, errno);
		else
			snprintf(out, cap, "RESULT ok");
	} else if (strcmp(t, "dmirror") == 0 && n == 9) {
		struct hmm_dmirror_cmd c;
		int rc;

		memset(&c, 0, sizeof c);
		c.addr = (uint64_t)(mapaddr(w[4]) + (uintptr_t)num(w[5]));
		c.ptr = strcmp(w[6], "-") == 0 ? 0 : (uint64_t)(mapaddr(w[6]) + (uintptr_t)num(w[7]));
		c.npages = num(w[8]);
		rc = ioctl(fdof(w[2]), dmirror_cmd(w[3]), &c);
		/* On an error the driver copies nothing back (dmirror_fops_unlocked_ioctl): only the errno. */
		if (rc < 0)
			reply_errno(out, cap, errno);
		else
			snprintf(out, cap, "RESULT out cpages=%llu faults=%llu", (unsigned long long)c.cpages,
				 (unsigned long long)c.faults);
	} else {
		snprintf(out, cap, "RESULT ddx-error bad-step");
	}
}

static void worker_loop(void) __attribute__((noreturn));

static void worker_loop(void)
{
	char line[4096], out[256];
	char *w[MAXW];
	int n;

	for (;;) {
		if (readline(chan, line, sizeof line) < 0)
			_exit(0);
		n = split(line, w);
		if (n < 1)
			continue;
		if (strcmp(w[0], "exit") == 0)
			_exit(0);
		if (strcmp(w[0], "fork") == 0) {
			int sv[2];
			pid_t c;

			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
				die("socketpair");
			c = fork();
			if (c < 0) {
				close(sv[0]);
				close(sv[1]);
				reply_errno(out, sizeof out, errno);
			} else if (c == 0) {
				close(chan);
				close(sv[0]);
				chan = sv[1];
				snprintf(out, sizeof out, "HELLO %d\n", (int)getpid());
				writeall(chan, out);
				continue;
			} else {
				close(sv[1]);
				/* the reply first, then the child's socket */
				writeall(chan, "RESULT ok\n");
				sendfd(chan, sv[0]);
				close(sv[0]);
				continue;
			}
		} else {
			worker_step(w, n, out, sizeof out);
		}
		strcat(out, "\n");
		writeall(chan, out);
	}
}

/* ------------------------------------------------------------ the coordinator */

struct proc {
	char name[64];
	int sock;
	pid_t pid;
};
static struct proc procs[MAXH];

static struct proc *proc_find(const char *name)
{
	int i;

	for (i = 0; i < MAXH; i++)
		if (procs[i].name[0] && strcmp(procs[i].name, name) == 0)
			return &procs[i];
	return NULL;
}

static struct proc *proc_slot(const char *name)
{
	int i;

	for (i = 0; i < MAXH; i++) {
		if (!procs[i].name[0]) {
			snprintf(procs[i].name, sizeof procs[i].name, "%s", name);
			return &procs[i];
		}
	}
	die("too-many-processes");
	return NULL;
}

/* The worker's HELLO line: its pid. */
static pid_t hello(int sock)
{
	char line[128];

	if (readline(sock, line, sizeof line) < 0 || strncmp(line, "HELLO ", 6) != 0)
		die("no-hello");
	return (pid_t)atoi(line + 6);
}

/* A pid handle's worker, forked fresh from the coordinator at its first use. */
static struct proc *proc_get(const char *name)
{
	struct proc *p = proc_find(name);
	int sv[2];
	pid_t c;

	if (p)
		return p;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	fflush(stdout);
	c = fork();
	if (c < 0)
		die("fork");
	if (c == 0) {
		int i;

		for (i = 0; i < MAXH; i++)
			if (procs[i].name[0])
				close(procs[i].sock);
		close(sv[0]);
		chan = sv[1];
		{
			char out[64];
			snprintf(out, sizeof out, "HELLO %d\n", (int)getpid());
			writeall(chan, out);
		}
		worker_loop();
	}
	close(sv[1]);
	p = proc_slot(name);
	p->sock = sv[0];
	p->pid = hello(sv[0]);
	return p;
}

/* Waits until the process is gone or a zombie: its exit has released its files and mappings. */
static void wait_gone(pid_t pid)
{
	char path[64], buf[256];
	int i;

	waitpid(pid, NULL, WNOHANG);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (i = 0; i < 5000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t r;
		char *rp;

		if (fd < 0)
			return;
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			return;
		buf[r] = 0;
		rp = strrchr(buf, ')');
		if (rp && (rp[2] == 'Z' || rp[2] == 'X'))
			break;
		usleep(1000);
	}
	waitpid(pid, NULL, WNOHANG);
}

static void drain_klog(int seq)
{
	static char buf[1 << 17];
	int n = klogctl(4 /* SYSLOG_ACTION_READ_CLEAR */, buf, sizeof buf - 1);
	char *l, *save = NULL;

	if (n <= 0)
		return;
	buf[n] = 0;
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (l[0] == '<') {
			char *gt = strchr(l, '>');
			if (gt)
				l = gt + 1;
		}
		printf("@@MEMHP KLOG %d %s\n", seq, l);
	}
}

/*
 * Waits up to STEP_TIMEOUT seconds for the worker's answer. An oops inside a
 * system call kills the task while it may hold the mmap lock, so its exit
 * hangs and the socket never closes: then the step is reported as died
 * (status -1) and the run ends, the oops being in the kernel's messages.
 */
#define STEP_TIMEOUT 20

static int answered(int sock)
{
	struct pollfd pf = { .fd = sock, .events = POLLIN };
	int r;

	do
		r = poll(&pf, 1, STEP_TIMEOUT * 1000);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* The result of a worker step, or "died": the worker ended (or hung) inside the step. */
static void relay(int seq, struct proc *p, const char *cmd)
{
	char line[512];

	writeall(p->sock, cmd);
	if (!answered(p->sock)) {
		/* hung in the kernel: no status */
		printf("@@MEMHP RES %d RESULT died -1\n", seq);
		drain_klog(seq);
		printf("@@MEMHP END\n");
		fflush(stdout);
		exit(0);
	}
	if (readline(p->sock, line, sizeof line) < 0) {
		/* it ended: its wait status if it is our child (a forked one is not: -1) */
		int st = -1;
		if (waitpid(p->pid, &st, 0) <= 0)
			st = -1;
		printf("@@MEMHP RES %d RESULT died %d\n", seq, st);
		drain_klog(seq);
		printf("@@MEMHP END\n");
		fflush(stdout);
		exit(0);
	}
	printf("@@MEMHP RES %d %s\n", seq, line);
}

/* /proc/<pid handle>/... → /proc/<real pid>/... */
static void translate(char *path, size_t cap)
{
	char name[64], rest[256];
	struct proc *p;

	if (sscanf(path, "/proc/%63[^/]/%255s", name, rest) != 2)
		return;
	p = proc_find(name);
	if (p)
		snprintf(path, cap, "/proc/%d/%s", (int)p->pid, rest);
}

static void step(char *line)
{
	char copy[4096], cmd[4096];
	char *w[MAXW];
	int n, seq;
	struct proc *p;

	snprintf(copy, sizeof copy, "%s", line);
	n = split(copy, w);
	if (n < 2)
		return;
	seq = atoi(w[0]);
	printf("@@MEMHP OP %d %s -\n", seq, w[1]);
	fflush(stdout);
	if (strcmp(w[1], "write") == 0 || strcmp(w[1], "raw") == 0 || strcmp(w[1], "read") == 0) {
		char *argv[5], path[512], hexpath[1100];
		char *dec = hexarg(w[2]);
		size_t i;

		snprintf(path, sizeof path, "%s", dec);
		free(dec);
		translate(path, sizeof path);
		for (i = 0; path[i] && i < 500; i++)
			sprintf(hexpath + 2 * i, "%02x", (unsigned char)path[i]);
		hexpath[2 * i] = 0;
		argv[0] = "sysfs-op";
		argv[1] = "-x";
		argv[2] = w[1];
		argv[3] = hexpath;
		argv[4] = n > 3 ? w[3] : NULL;
		printf("@@MEMHP RES %d ", seq);
		sysfs_op(strcmp(w[1], "read") == 0 ? 4 : 5, argv);
		alarm(0);
	} else if (strcmp(w[1], "swapon") == 0 || strcmp(w[1], "swapoff") == 0) {
		char *path = n > 2 ? hexarg(w[2]) : NULL;
		long rc;

		if (!path)
			die("swap-usage");
		rc = strcmp(w[1], "swapon") == 0 ? syscall(SYS_swapon, path, 0) : syscall(SYS_swapoff, path);
		if (rc == 0)
			printf("@@MEMHP RES %d RESULT ok\n", seq);
		else
			printf("@@MEMHP RES %d RESULT errno %s\n", seq, errname(errno));
		free(path);
	} else if (strcmp(w[1], "exit") == 0) {
		char *name = hexarg(w[2]);

		p = proc_get(name);
		writeall(p->sock, "exit\n");
		{
			char tmp[8];
			while (read(p->sock, tmp, sizeof tmp) > 0)
				;
		}
		close(p->sock);
		wait_gone(p->pid);
		p->name[0] = 0;
		printf("@@MEMHP RES %d RESULT ok\n", seq);
		free(name);
	} else if (strcmp(w[1], "fork") == 0) {
		char *name = hexarg(w[2]), *child = hexarg(w[3]);
		char line2[128];
		struct proc *c;

		p = proc_get(name);
		writeall(p->sock, "fork\n");
		if (readline(p->sock, line2, sizeof line2) < 0)
			die("fork-lost");
		if (strcmp(line2, "RESULT ok") == 0) {
			int s = recvfd(p->sock);
			if (s < 0)
				die("recvfd");
			c = proc_find(child);
			if (c) { /* the child handle named a live process: the log's fork replaces it */
				writeall(c->sock, "exit\n");
				close(c->sock);
				wait_gone(c->pid);
			} else {
				c = proc_slot(child);
			}
			c->sock = s;
			c->pid = hello(s);
		}
		printf("@@MEMHP RES %d %s\n", seq, line2);
		free(name);
		free(child);
	} else {
		char *name = hexarg(w[2]);
		int i;

		p = proc_get(name);
		cmd[0] = 0;
		for (i = 1; i < n; i++) {
			strcat(cmd, w[i]);
			strcat(cmd, i + 1 < n ? " " : "\n");
		}
		relay(seq, p, cmd);
		free(name);
	}
	fflush(stdout);
	drain_klog(seq);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	FILE *f;
	char line[4096];

	if (argc != 2)
		die("usage");
	/* no user ASLR: re-exec once with ADDR_NO_RANDOMIZE set */
	if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) {
		personality(ADDR_NO_RANDOMIZE);
		execv("/proc/self/exe", argv);
		die("re-exec");
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	signal(SIGPIPE, SIG_IGN);
	klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 2);
	f = fopen(argv[1], "r");
	if (!f)
		die("no-ops-file");
	while (fgets(line, sizeof line, f))
		step(line);
	fclose(f);
	return 0;
}
