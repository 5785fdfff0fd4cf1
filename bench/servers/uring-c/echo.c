/*
 * echo.c: a minimal single-threaded io_uring TCP echo server (liburing).
 *
 * It is the benchmark's floor for server CPU per message: no runtime, no
 * framework, one io_uring_enter per loop iteration.
 *
 *   - Accept: multishot accept when the kernel has it (5.19+), otherwise
 *     one accept at a time, re-armed after each completion.
 *   - Each connection has at most one recv and one send in flight. The recv
 *     is multishot (6.0+; else re-armed after each completion) and stays
 *     armed; received buffers queue per connection in arrival order and are
 *     sent one at a time (a short send re-submits the rest), so nothing is
 *     reordered.
 *   - Receive buffers come from a provided-buffer ring shared by all
 *     connections (IOSQE_BUFFER_SELECT), so an idle connection holds no
 *     buffer. A buffer goes back to the ring when its send is complete. If
 *     the ring is empty (ENOBUFS ends the multishot recv), the connection
 *     waits in a FIFO and its recv is re-armed when a buffer comes back.
 *   - EOF: what was received is still sent, then the socket is closed once
 *     no operation is in flight (close(2) does not cancel io_uring ops).
 *   - Ring setup: SINGLE_ISSUER|DEFER_TASKRUN, falling back to COOP_TASKRUN,
 *     then to no flags. No SQPOLL.
 *
 * Usage: echo --addr HOST:PORT [--bufs N] [--bufsize BYTES]
 * Build: cc -O2 -o echo echo.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3, OP_TIMER = 4 };

#define BGID 7

/* user_data: fd in the high 32 bits, operation in the low 8. */
static inline uint64_t ud(int fd, int op) { return ((uint64_t)(uint32_t)fd << 32) | (uint64_t)op; }
static inline int ud_fd(uint64_t u) { return (int)(u >> 32); }
static inline int ud_op(uint64_t u) { return (int)(u & 0xff); }

struct conn {
	int qhead, qtail;  /* buffer ids received and not yet fully sent (FIFO via bufnext), or -1 */
	unsigned off;      /* bytes of the head buffer sent so far */
	int next_wait;     /* next fd in the ENOBUFS wait list, or -1 */
	unsigned char recv_armed, send_busy, waiting, closing;
};

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static unsigned nbufs = 1024, bufsize = 16384;
static char *bufbase;
static int *buflen;  /* bytes received into each buffer */
static int *bufnext; /* next buffer in a connection's send FIFO */
static struct conn *conns;
static int maxconns;
static int listen_fd;
static int multishot_accept = 1, multishot_recv = 1;
static int wait_head = -1, wait_tail = -1;
static unsigned bufs_out; /* buffers taken by received data and not yet returned */
static struct __kernel_timespec backoff = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	while (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	if (multishot_accept)
		io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
	else
		io_uring_prep_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud(listen_fd, OP_ACCEPT));
}

static void arm_recv(int fd)
{
	struct io_uring_sqe *sqe = sqe_get();
	if (multishot_recv)
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	else
		io_uring_prep_recv(sqe, fd, NULL, bufsize, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, ud(fd, OP_RECV));
	conns[fd].recv_armed = 1;
}

static void arm_send(int fd)
{
	struct conn *c = &conns[fd];
	int bid = c->qhead;
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, fd, bufbase + (size_t)bid * bufsize + c->off,
			   (size_t)buflen[bid] - c->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(fd, OP_SEND));
	c->send_busy = 1;
}

static void wait_push(int fd)
{
	conns[fd].waiting = 1;
	conns[fd].next_wait = -1;
	if (wait_tail >= 0)
		conns[wait_tail].next_wait = fd;
	else
		wait_head = fd;
	wait_tail = fd;
}

static void wait_remove(int fd)
{
	int prev = -1;
	for (int cur = wait_head; cur >= 0; prev = cur, cur = conns[cur].next_wait) {
		if (cur != fd)
			continue;
		if (prev >= 0)
			conns[prev].next_wait = conns[cur].next_wait;
		else
			wait_head = conns[cur].next_wait;
		if (wait_tail == fd)
			wait_tail = prev;
		break;
	}
	conns[fd].waiting = 0;
	conns[fd].next_wait = -1;
}

static void buf_return(int bid)
{
	io_uring_buf_ring_add(br, bufbase + (size_t)bid * bufsize, bufsize, (unsigned short)bid,
			      io_uring_buf_ring_mask(nbufs), 0);
	io_uring_buf_ring_advance(br, 1);
	bufs_out--;
	/* A buffer is back: let one connection that hit ENOBUFS receive again. */
	if (wait_head >= 0) {
		int fd = wait_head;
		wait_remove(fd);
		arm_recv(fd);
	}
}

/* maybe_close closes a closing connection once no operation is in flight. */
static void maybe_close(int fd)
{
	struct conn *c = &conns[fd];
	if (!c->closing || c->recv_armed || c->send_busy)
		return;
	if (c->waiting)
		wait_remove(fd);
	close(fd);
	c->closing = 0;
	while (c->qhead >= 0) {
		int bid = c->qhead;
		c->qhead = bufnext[bid];
		buf_return(bid);
	}
	c->qtail = -1;
}

static void on_accept(struct io_uring_cqe *cqe)
{
	int res = cqe->res;
	int more = cqe->flags & IORING_CQE_F_MORE;

	if (res >= 0) {
		if (res >= maxconns) {
			close(res);
		} else {
			conns[res] = (struct conn){ .qhead = -1, .qtail = -1, .next_wait = -1 };
			arm_recv(res);
		}
	} else if (res == -EINVAL && multishot_accept) {
		fprintf(stderr, "uring-c: multishot accept unsupported, using plain accept\n");
		multishot_accept = 0;
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
		static int logged;
		if (!logged++)
			fprintf(stderr, "uring-c: accept: %s (backing off)\n", strerror(-res));
		if (!more) {
			struct io_uring_sqe *sqe = sqe_get();
			io_uring_prep_timeout(sqe, &backoff, 0, 0);
			io_uring_sqe_set_data64(sqe, ud(listen_fd, OP_TIMER));
			return;
		}
	}
	if (!more)
		arm_accept();
}

static void on_recv(int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[fd];
	int res = cqe->res;
	int more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		c->recv_armed = 0;
	if (res > 0) {
		/* Queue the buffer behind any still being sent: order is kept. */
		int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		bufs_out++;
		buflen[bid] = res;
		bufnext[bid] = -1;
		if (c->qtail >= 0)
			bufnext[c->qtail] = bid;
		else
			c->qhead = bid;
		c->qtail = bid;
		if (!c->send_busy && !c->closing) {
			c->off = 0;
			arm_send(fd);
		}
		if (!more && !c->closing)
			arm_recv(fd); /* single-shot mode, or the kernel ended the multishot */
	} else if (res == -ENOBUFS) {
		/*
		 * Buffers may have come back between the kernel's ENOBUFS and this
		 * completion: then try again now, else wait for the next return.
		 */
		if (!more && !c->closing) {
			if (bufs_out < nbufs)
				arm_recv(fd);
			else
				wait_push(fd);
		}
	} else if (res == -EINVAL && multishot_recv) {
		fprintf(stderr, "uring-c: multishot recv unsupported, using plain recv\n");
		multishot_recv = 0;
		if (!more && !c->closing)
			arm_recv(fd);
	} else {
		/* EOF or error: finish sending what was received, then close. */
		c->closing = 1;
		if (c->recv_armed)
			shutdown(fd, SHUT_RD);
	}
	maybe_close(fd);
}

static void on_send(int fd, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[fd];
	int res = cqe->res;

	c->send_busy = 0;
	if (res < 0) {
		c->closing = 1;
		if (c->recv_armed)
			shutdown(fd, SHUT_RDWR); /* ends the armed recv */
		maybe_close(fd);
		return;
	}
	c->off += (unsigned)res;
	int bid = c->qhead;
	if (c->off < (unsigned)buflen[bid]) {
		arm_send(fd); /* short send: the rest, in order */
		return;
	}
	c->qhead = bufnext[bid];
	if (c->qhead < 0)
		c->qtail = -1;
	c->off = 0;
	if (c->qhead >= 0)
		arm_send(fd);
	buf_return(bid);
	maybe_close(fd);
}

static int setup_ring(unsigned entries)
{
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 8;
		int ret = io_uring_queue_init_params(entries, &ring, &p);
		if (ret == 0)
			return 0;
		if (ret != -EINVAL)
			return ret;
	}
	return -EINVAL;
}

static int setup_buffers(void)
{
	size_t ringsz = (size_t)nbufs * sizeof(struct io_uring_buf);
	br = mmap(NULL, ringsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		return -errno;
	/* Buffer memory is touched only as the kernel fills it. */
	bufbase = mmap(NULL, (size_t)nbufs * bufsize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bufbase == MAP_FAILED)
		return -errno;
	buflen = calloc(nbufs, sizeof(*buflen));
	bufnext = calloc(nbufs, sizeof(*bufnext));
	if (!buflen || !bufnext)
		return -ENOMEM;

	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = nbufs;
	reg.bgid = BGID;
	int ret = io_uring_register_buf_ring(&ring, &reg, 0);
	if (ret)
		return ret;
	io_uring_buf_ring_init(br);
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(br, bufbase + (size_t)i * bufsize, bufsize, (unsigned short)i,
				      io_uring_buf_ring_mask(nbufs), (int)i);
	io_uring_buf_ring_advance(br, (int)nbufs);
	return 0;
}

static int listen_on(const char *addr)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host)) {
		fprintf(stderr, "uring-c: bad --addr %s (want HOST:PORT)\n", addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	const char *h = host;
	if (h[0] == '[') { /* [v6]:port */
		h++;
		host[strlen(host) - 1] = 0;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai;
	int err = getaddrinfo(h[0] ? h : NULL, colon + 1, &hints, &ai);
	if (err) {
		fprintf(stderr, "uring-c: %s: %s\n", addr, gai_strerror(err));
		return -1;
	}
	int one = 1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
		perror("uring-c: listen");
		freeaddrinfo(ai);
		return -1;
	}
	/* Accepted sockets inherit TCP_NODELAY on Linux; Go servers set it too. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	freeaddrinfo(ai);
	return fd;
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1:7000";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] == '-' && a[1] == '-')
			a++; /* accept -flag and --flag, like Go's flag package */
		if (!strcmp(a, "-addr") && i + 1 < argc)
			addr = argv[++i];
		else if (!strncmp(a, "-addr=", 6))
			addr = a + 6;
		else if (!strcmp(a, "-bufs") && i + 1 < argc)
			nbufs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "-bufsize") && i + 1 < argc)
			bufsize = (unsigned)atoi(argv[++i]);
		else if (!strcmp(a, "-loops") && i + 1 < argc)
			i++; /* single-threaded: accepted for symmetry, ignored */
		else {
			fprintf(stderr, "usage: %s --addr HOST:PORT [--bufs N (power of 2)] [--bufsize BYTES]\n", argv[0]);
			return 2;
		}
	}
	if (nbufs == 0 || (nbufs & (nbufs - 1)) || nbufs > 32768 || bufsize == 0) {
		fprintf(stderr, "uring-c: --bufs must be a power of two <= 32768, --bufsize > 0\n");
		return 2;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	maxconns = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	conns = calloc((size_t)maxconns, sizeof(*conns));
	if (!conns)
		return 1;

	listen_fd = listen_on(addr);
	if (listen_fd < 0)
		return 1;
	int ret = setup_ring(4096);
	if (ret < 0) {
		fprintf(stderr, "uring-c: io_uring setup: %s\n", strerror(-ret));
		return 1;
	}
	ret = setup_buffers();
	if (ret < 0) {
		fprintf(stderr, "uring-c: buffer ring: %s\n", strerror(-ret));
		return 1;
	}
	fprintf(stderr, "uring-c echo listening on %s (flags=0x%x, %u x %u B buffers)\n", addr,
		ring.flags, nbufs, bufsize);

	arm_accept();
	for (;;) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "uring-c: io_uring_enter: %s\n", strerror(-ret));
			return 1;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t u = io_uring_cqe_get_data64(cqe);
			int fd = ud_fd(u);
			switch (ud_op(u)) {
			case OP_ACCEPT: on_accept(cqe); break;
			case OP_RECV: on_recv(fd, cqe); break;
			case OP_SEND: on_send(fd, cqe); break;
			case OP_TIMER: arm_accept(); break;
			}
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
}
