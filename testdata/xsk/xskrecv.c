// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xskrecv: an AF_XDP application as libxdp applications without an XDP
 * program of their own are written, for xdpchain's tests. It creates a UMEM
 * and a socket in copy mode on IFACE's RX queue QUEUE with
 * XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD (libxdp loads and attaches nothing),
 * opens the XSKMAP pinned at MAP and puts the socket there with
 * xsk_socket__update_xskmap.
 *
 * It prints "ready" once the socket is in the map, then one line per
 * received frame, "pkt LEN DPORT PAYLOAD" (DPORT and PAYLOAD of a UDP/IPv4
 * datagram, else "- -"), and "exit N" when its standard input closes.
 *
 * Build: cc -O2 [-static] -o xskrecv xskrecv.c -lxdp -lbpf [-lelf -lz]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>

#define NUM_FRAMES 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define RING_SIZE 4096

static void die(const char *what, int err)
{
	fprintf(stderr, "xskrecv: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void print_frame(const unsigned char *p, unsigned len)
{
	const struct ethhdr *eth = (const void *)p;
	const struct iphdr *ip = (const void *)(eth + 1);
	const struct udphdr *udp;
	unsigned off;

	if (len < sizeof(*eth) + sizeof(*ip) || eth->h_proto != htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP) {
		printf("pkt %u - -\n", len);
		return;
	}
	off = sizeof(*eth) + ip->ihl * 4;
	if (len < off + sizeof(*udp)) {
		printf("pkt %u - -\n", len);
		return;
	}
	udp = (const void *)(p + off);
	off += sizeof(*udp);
	printf("pkt %u %u %.*s\n", len, ntohs(udp->dest), (int)(len - off), (const char *)(p + off));
}

int main(int argc, char **argv)
{
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	unsigned long long received = 0;
	void *bufs;
	__u32 idx;
	int err, map_fd, i;

	if (argc != 4) {
		fprintf(stderr, "usage: xskrecv IFACE QUEUE MAP\n");
		return 2;
	}
	if (posix_memalign(&bufs, getpagesize(), (size_t)NUM_FRAMES * FRAME_SIZE))
		die("allocating the UMEM", ENOMEM);
	struct xsk_umem_config ucfg = {
		.fill_size = RING_SIZE,
		.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.frame_size = FRAME_SIZE,
		.frame_headroom = 0,
	};
	err = xsk_umem__create(&umem, bufs, (size_t)NUM_FRAMES * FRAME_SIZE, &fq, &cq, &ucfg);
	if (err)
		die("xsk_umem__create", err);
	struct xsk_socket_config cfg = {
		.rx_size = RING_SIZE,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	err = xsk_socket__create(&xsk, argv[1], atoi(argv[2]), umem, &rx, &tx, &cfg);
	if (err)
		die("xsk_socket__create", err);
	if (xsk_ring_prod__reserve(&fq, NUM_FRAMES, &idx) != NUM_FRAMES)
		die("filling the fill ring", ENOSPC);
	for (i = 0; i < NUM_FRAMES; i++)
		*xsk_ring_prod__fill_addr(&fq, idx++) = (__u64)i * FRAME_SIZE;
	xsk_ring_prod__submit(&fq, NUM_FRAMES);

	map_fd = bpf_obj_get(argv[3]);
	if (map_fd < 0)
		die(argv[3], errno);
	err = xsk_socket__update_xskmap(xsk, map_fd);
	if (err)
		die("xsk_socket__update_xskmap", err);
	printf("ready\n");
	fflush(stdout);

	struct pollfd fds[2] = {
		{ .fd = xsk_socket__fd(xsk), .events = POLLIN },
		{ .fd = STDIN_FILENO, .events = POLLIN },
	};
	for (;;) {
		if (poll(fds, 2, 1000) < 0 && errno != EINTR)
			die("poll", errno);
		__u32 idx_rx, idx_fq;
		unsigned n = xsk_ring_cons__peek(&rx, 64, &idx_rx);
		if (n) {
			while (xsk_ring_prod__reserve(&fq, n, &idx_fq) != n)
				;
			for (unsigned k = 0; k < n; k++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, idx_rx++);
				print_frame(xsk_umem__get_data(bufs, d->addr), d->len);
				*xsk_ring_prod__fill_addr(&fq, idx_fq++) = xsk_umem__extract_addr(d->addr);
			}
			xsk_ring_prod__submit(&fq, n);
			xsk_ring_cons__release(&rx, n);
			received += n;
			fflush(stdout);
			continue;
		}
		if (fds[1].revents & (POLLIN | POLLHUP)) {
			char buf[64];
			if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
				break;
		}
	}
	printf("exit %llu\n", received);
	fflush(stdout);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	return 0;
}
