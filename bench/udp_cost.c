/* SPDX-License-Identifier: ISC */
/*
 * udp_cost - what one DNS-sized UDP exchange over loopback costs this machine, without
 * relaytrap: the floor under every query DNS enrichment sends (bench/enrich.sh, docs/
 * performance.md). Two processes, a client and a server on 127.0.0.1: the client sends a
 * 40-byte datagram, the server answers 100 bytes. "alternate": one exchange at a time (each
 * side sleeps in recv until the other writes: a wake-up per packet, like a resolver answering
 * one query); "burst of 4": four queries, then four answers (like a session's PTR and three
 * DNSBL zones). Prints CPU microseconds (user + system) per exchange on each side.
 *
 * Usage: udp_cost [EXCHANGES]   (default 50000)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"

static double
cpu_s(void)
{
	return (double)cpu_self_us() / 1e6;
}

/* pair - two UDP sockets on 127.0.0.1 connected to each other */
static void
pair(int *a, int *b)
{
	struct sockaddr_in x = {.sin_family = AF_INET}, y;
	socklen_t l = sizeof(x);

	inet_pton(AF_INET, "127.0.0.1", &x.sin_addr);
	y = x;
	*a = socket(AF_INET, SOCK_DGRAM, 0);
	*b = socket(AF_INET, SOCK_DGRAM, 0);
	if (*a < 0 || *b < 0 || bind(*a, (struct sockaddr *)&x, sizeof(x)) < 0 ||
	    bind(*b, (struct sockaddr *)&y, sizeof(y)) < 0 ||
	    getsockname(*a, (struct sockaddr *)&x, &l) < 0 ||
	    getsockname(*b, (struct sockaddr *)&y, &l) < 0 ||
	    connect(*a, (struct sockaddr *)&y, sizeof(y)) < 0 ||
	    connect(*b, (struct sockaddr *)&x, sizeof(x)) < 0) {
		perror("udp_cost: sockets");
		exit(1);
	}
}

/* run - n exchanges in groups of burst; prints both sides' CPU per exchange */
static void
run(const char *label, long n, int burst)
{
	char buf[512] = {0};
	int c, s, st;
	double t;
	pid_t pid;

	pair(&c, &s);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		t = cpu_s();
		for (long i = 0; i < n; i++)
			if (recv(s, buf, sizeof(buf), 0) < 0 || send(s, buf, 100, 0) < 0)
				_exit(1);
		printf("%-12s server %6.2f us CPU per exchange\n", label, (cpu_s() - t) / n * 1e6);
		fflush(stdout);
		_exit(0);
	}
	t = cpu_s();
	for (long i = 0; i < n; i += burst) {
		for (int k = 0; k < burst; k++)
			if (send(c, buf, 40, 0) < 0)
				exit(1);
		for (int k = 0; k < burst; k++)
			if (recv(c, buf, sizeof(buf), 0) < 0)
				exit(1);
	}
	printf("%-12s client %6.2f us CPU per exchange\n", label, (cpu_s() - t) / n * 1e6);
	fflush(stdout);
	waitpid(pid, &st, 0);
	close(c);
	close(s);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 50000;

	if (n <= 0 || n % 4 != 0) {
		fprintf(stderr, "usage: udp_cost [EXCHANGES (a multiple of 4)]\n");
		return 2;
	}
	run("alternate", n, 1);
	run("burst of 4", n, 4);
	return 0;
}
