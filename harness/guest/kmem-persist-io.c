// SPDX-License-Identifier: MIT
/*
 * kmem-persist-io: the block I/O the kmem-persist scenario needs, one 4 KiB
 * logical block per call, every result printed on one line with errno names.
 * Built static on the host (harness/run-kmem-persist.sh).
 *
 *   kmem-persist-io size DEV                 BLKGETSIZE64, BLKSSZGET, BLKPBSZGET
 *   kmem-persist-io write DEV BLOCK TAG      4096 bytes: "TAG blk=BLOCK " repeated, O_DIRECT pwrite
 *   kmem-persist-io read DEV BLOCK           O_DIRECT pread of 4096 bytes: first 48 bytes as text,
 *                                            whether all zero, a checksum (fnv-1a 64)
 *   kmem-persist-io discard DEV BLOCK        ioctl BLKDISCARD of [BLOCK*4096, +4096)
 *   kmem-persist-io zeroout DEV BLOCK        ioctl BLKZEROOUT of [BLOCK*4096, +4096)
 *   kmem-persist-io sysw PATH VALUE          one write(2) of VALUE to a sysfs file: rc and errno name
 *   kmem-persist-io census PFN COUNT         /proc/kpageflags of COUNT pages from PFN: how many are
 *                                            free in the buddy (KPF_BUDDY, head and tail pages of
 *                                            free blocks), how many have no page flags at all (what
 *                                            kmem's MHP_ALLOCATE pages look like, but also free pages
 *                                            sitting on per-cpu lists and flagless kernel
 *                                            allocations), listed as device page offsets, and how
 *                                            many are in use with flags (slab, anon, lru, ...).
 *                                            Then the per-cpu list counts of node 1's zones, from
 *                                            /proc/zoneinfo ("count:"), summed.
 *
 * Every I/O uses O_DIRECT on a page-aligned buffer (no page cache: the bio
 * reaches the driver during the call and its error comes back from it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BS 4096

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int openit(const char *dev, int flags)
{
	int fd = open(dev, flags);
	if (fd < 0) {
		printf("open %s: -1 %s\n", dev, ename(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: kmem-persist-io size|write|read|discard|zeroout DEV [BLOCK [TAG]]\n");
		return 2;
	}
	const char *op = argv[1], *dev = argv[2];
	if (!strcmp(op, "census") && argc > 3) {
		unsigned long long pfn0 = strtoull(argv[2], NULL, 0), cnt = strtoull(argv[3], NULL, 0);
		int ff = open("/proc/kpageflags", O_RDONLY);
		if (ff < 0) {
			printf("census: open /proc/kpageflags: %s\n", ename(errno));
			return 1;
		}
		uint64_t *f = malloc(cnt * 8);
		if (pread(ff, f, cnt * 8, pfn0 * 8) != (ssize_t)(cnt * 8)) {
			printf("census: pread: %s\n", ename(errno));
			return 1;
		}
		unsigned long long nbuddy = 0, nnone = 0, nused = 0, nranges = 0;
		uint64_t fl = 0;
		char list[4096] = "";
		size_t ll = 0;
		for (unsigned long long i = 0; i < cnt; i++) {
			if ((f[i] >> 10) & 1) { /* KPF_BUDDY */
				nbuddy++;
			} else if (f[i] == 0) {
				nnone++;
				if (i == 0 || f[i - 1] != 0) { /* a run of flagless pages starts */
					unsigned long long j = i;
					while (j + 1 < cnt && f[j + 1] == 0)
						j++;
					nranges++;
					if (ll < sizeof(list) - 64) {
						ll += j > i ? snprintf(list + ll, sizeof(list) - ll, "%s%llu-%llu", ll ? "," : "", i, j)
							    : snprintf(list + ll, sizeof(list) - ll, "%s%llu", ll ? "," : "", i);
					} else if (list[ll - 1] != '.') {
						ll += snprintf(list + ll, sizeof(list) - ll, ",...");
					}
				}
			} else {
				nused++;
				fl |= f[i];
			}
		}
		/* per-cpu list pages of node 1's zones */
		FILE *z = fopen("/proc/zoneinfo", "r");
		char line[256];
		int node1 = 0;
		unsigned long long pcp = 0;
		while (z && fgets(line, sizeof(line), z)) {
			int nid;
			char zn[32];
			if (sscanf(line, "Node %d, zone %31s", &nid, zn) == 2)
				node1 = nid == 1;
			unsigned long long v;
			if (node1 && sscanf(line, " count: %llu", &v) == 1)
				pcp += v;
		}
		printf("census pfn %#llx +%llu: buddy-free %llu, no-flags %llu in %llu runs [device pages %s], with-flags %llu (union %#llx); node 1 per-cpu lists hold %llu pages\n",
		       pfn0, cnt, nbuddy, nnone, nranges, list, nused, (unsigned long long)fl, pcp);
		return 0;
	}
	if (!strcmp(op, "sysw") && argc > 3) {
		int fd = open(dev, O_WRONLY);
		if (fd < 0) {
			printf("sysw %s: open -1 %s\n", dev, ename(errno));
			return 1;
		}
		errno = 0;
		ssize_t n = write(fd, argv[3], strlen(argv[3]));
		int e = errno;
		printf("write \"%s\" > %s: %zd %s\n", argv[3], dev, n, n >= 0 ? "OK" : ename(e));
		close(fd);
		return n >= 0 ? 0 : 1;
	}
	unsigned long long blk = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	off_t off = (off_t)blk * BS;
	unsigned char *buf;
	if (posix_memalign((void **)&buf, BS, BS))
		return 1;

	if (!strcmp(op, "size")) {
		int fd = openit(dev, O_RDONLY);
		unsigned long long bytes = 0;
		int lbs = 0;
		unsigned int pbs = 0;
		int r1 = ioctl(fd, BLKGETSIZE64, &bytes);
		int r2 = ioctl(fd, BLKSSZGET, &lbs);
		int r3 = ioctl(fd, BLKPBSZGET, &pbs);
		printf("size %s: bytes %llu (%llu sectors, %llu blocks of 4096) logical %d physical %u (rc %d %d %d)\n",
		       dev, bytes, bytes / 512, bytes / BS, lbs, pbs, r1, r2, r3);
		return 0;
	}
	if (!strcmp(op, "write")) {
		const char *tag = argc > 4 ? argv[4] : "memhp";
		char unit[64];
		int ul = snprintf(unit, sizeof(unit), "%s blk=%llu ", tag, blk);
		for (int i = 0; i < BS; i++)
			buf[i] = unit[i % ul];
		int fd = openit(dev, O_WRONLY | O_DIRECT);
		errno = 0;
		ssize_t n = pwrite(fd, buf, BS, off);
		int e = errno;
		printf("write %s blk %llu (O_DIRECT, 4096 bytes \"%s\"...): %zd %s fnv %016llx\n", dev, blk, unit, n,
		       n == BS ? "OK" : n < 0 ? ename(e) : "SHORT", (unsigned long long)fnv(buf, BS));
		close(fd);
		return n == BS ? 0 : 1;
	}
	if (!strcmp(op, "read")) {
		int fd = openit(dev, O_RDONLY | O_DIRECT);
		memset(buf, 0xa5, BS);
		errno = 0;
		ssize_t n = pread(fd, buf, BS, off);
		int e = errno;
		if (n != BS) {
			printf("read %s blk %llu (O_DIRECT): %zd %s\n", dev, blk, n, n < 0 ? ename(e) : "SHORT");
			return 1;
		}
		int zero = 1;
		for (int i = 0; i < BS; i++)
			if (buf[i]) {
				zero = 0;
				break;
			}
		char text[49];
		for (int i = 0; i < 48; i++)
			text[i] = buf[i] >= 32 && buf[i] < 127 ? buf[i] : '.';
		text[48] = 0;
		printf("read %s blk %llu (O_DIRECT): %zd OK %s \"%s\" fnv %016llx\n", dev, blk, n,
		       zero ? "all-zero" : "data", text, (unsigned long long)fnv(buf, BS));
		close(fd);
		return 0;
	}
	if (!strcmp(op, "discard") || !strcmp(op, "zeroout")) {
		int fd = openit(dev, O_WRONLY);
		uint64_t range[2] = { (uint64_t)off, BS };
		errno = 0;
		int r = ioctl(fd, !strcmp(op, "discard") ? BLKDISCARD : BLKZEROOUT, range);
		int e = errno;
		printf("%s %s blk %llu (ioctl %s [%llu, +4096)): %d %s\n", op, dev, blk,
		       !strcmp(op, "discard") ? "BLKDISCARD" : "BLKZEROOUT", (unsigned long long)off, r,
		       r == 0 ? "OK" : ename(e));
		close(fd);
		return r == 0 ? 0 : 1;
	}
	fprintf(stderr, "unknown op %s\n", op);
	return 2;
}
