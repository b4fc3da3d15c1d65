/* SPDX-License-Identifier: ISC */
/*
 * emit - the engine side of capture (see emit.h).
 */
#include "capture/emit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "core/log.h"
#include "core/util.h"

#define WRITE_IOV 64
/* Frames are written to the store in batches: at most FLUSH_MS after the first one is queued,
 * or at once when FLUSH_BYTES are waiting. Writing every loop iteration woke the store seven
 * times per message (one writev each, ~15 us on this VM, and a context switch), which set the
 * pace of a single client more than anything else; the frames wait for the store's commit
 * anyway (STORE_BATCH_MS). */
#define FLUSH_MS 5
#define FLUSH_BYTES (64u * 1024u)
#define ACKBUF (64u * (FRAME_HDR + FRAME_ACK_LEN))

struct capture {
	char sensor[64];
	capture_sink_fn sink;
	void *sink_arg;
	int fd; /* the store channel, -1 while detached */
	struct event *ev_write;
	struct event *ev_read;
	struct event *ev_flush;     /* FLUSH_MS after the first frame of a batch: start writing */
	struct evbuffer *out;       /* frames not yet written to the store */
	struct evbuffer *inflight;  /* written, not yet acknowledged as committed */
	uint64_t acked_off;         /* stream offset of the first byte of inflight */
	uint64_t sent_off;          /* stream offset of the first byte of out */
	uint64_t ack_ino, ack_size; /* events.jsonl at acked_off, from the last ACK */
	bool have_ack;
	unsigned char ackbuf[ACKBUF];
	size_t acklen;
	struct jw w;
	uint64_t events;
	uint64_t queued; /* bytes of frames queued since capture_new (sink included) */
	uint64_t dropped;
	uint64_t dropped_bodies;
	bool dropping; /* over a limit right now (logged once per episode) */
};

struct capture *
capture_new(const char *sensor, capture_sink_fn sink, void *sink_arg)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	strlcpy(c->sensor, sensor ? sensor : "", sizeof(c->sensor));
	c->sink = sink;
	c->sink_arg = sink_arg;
	c->fd = -1;
	jw_init(&c->w);
	c->out = evbuffer_new();
	c->inflight = evbuffer_new();
	if (c->out == NULL || c->inflight == NULL) {
		if (c->out)
			evbuffer_free(c->out);
		if (c->inflight)
			evbuffer_free(c->inflight);
		free(c);
		return NULL;
	}
	return c;
}

/* capture_write_some - write from the front of out without blocking, moving what was written
 * to inflight (it is kept until acknowledged); 1 written or would block, 0 channel gone */
static int
capture_write_some(struct capture *c)
{
	struct evbuffer_iovec v[WRITE_IOV];
	struct iovec iov[WRITE_IOV];
	ssize_t n;
	int k, i;

	while (evbuffer_get_length(c->out) > 0) {
		k = evbuffer_peek(c->out, -1, NULL, v, WRITE_IOV);
		if (k > WRITE_IOV)
			k = WRITE_IOV;
		for (i = 0; i < k; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len;
		}
		n = writev(c->fd, iov, k);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 1;
			log_warn("capture: writing to the store: %s", strerror(errno));
			return 0;
		}
		if (n == 0)
			return 1;
		evbuffer_remove_buffer(c->out, c->inflight, (size_t)n);
		c->sent_off += (uint64_t)n;
	}
	return 1;
}

/* capture_on_ack - one FRAME_ACK: everything before its offset is committed; drop it */
static void
capture_on_ack(struct capture *c, const unsigned char *p)
{
	uint64_t off = frame_get_u64(p);

	if (off < c->acked_off || off > c->sent_off) {
		log_warn("capture: store acknowledged offset %llu outside [%llu, %llu]; ignored",
		         (unsigned long long)off, (unsigned long long)c->acked_off,
		         (unsigned long long)c->sent_off);
		return;
	}
	evbuffer_drain(c->inflight, (size_t)(off - c->acked_off));
	c->acked_off = off;
	c->ack_ino = frame_get_u64(p + 8);
	c->ack_size = frame_get_u64(p + 16);
	c->have_ack = true;
}

/* capture_read_acks - read and apply what the store sent; 1 ok, 0 channel gone */
static int
capture_read_acks(struct capture *c)
{
	enum frame_type type;
	size_t len, off;
	ssize_t n;

	for (;;) {
		n = read(c->fd, c->ackbuf + c->acklen, sizeof(c->ackbuf) - c->acklen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 1;
			log_warn("capture: reading from the store: %s", strerror(errno));
			return 0;
		}
		if (n == 0)
			return 0;
		c->acklen += (size_t)n;
		for (off = 0; c->acklen - off >= FRAME_HDR + FRAME_ACK_LEN;
		     off += FRAME_HDR + len) {
			if (frame_decode_header(c->ackbuf + off, &type, &len) < 0 ||
			    type != FRAME_ACK) {
				log_err("capture: the store sent a bad frame; closing its channel");
				return 0;
			}
			capture_on_ack(c, c->ackbuf + off + FRAME_HDR);
		}
		memmove(c->ackbuf, c->ackbuf + off, c->acklen - off);
		c->acklen -= off;
	}
}

/* capture_on_write - the store socket is writable: push out what is queued */
static void
capture_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;

	if (!capture_write_some(c)) {
		capture_detach(c);
		return;
	}
	if (evbuffer_get_length(c->out) > 0)
		event_add(c->ev_write, NULL);
}

/* capture_on_flush - the batch has waited FLUSH_MS: write it */
static void
capture_on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;

	if (c->fd >= 0 && evbuffer_get_length(c->out) > 0 &&
	    !event_pending(c->ev_write, EV_WRITE, NULL))
		event_add(c->ev_write, NULL);
}

/* capture_on_read - acknowledgements from the store, or its end */
static void
capture_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;

	if (!capture_read_acks(c))
		capture_detach(c);
}

/* capture_start_frame - the FRAME_START that opens a channel: resume at the last commit */
static void
capture_start_frame(const struct capture *c, unsigned char f[FRAME_HDR + FRAME_START_LEN])
{
	unsigned char *p = f + FRAME_HDR;

	frame_header(f, FRAME_START, FRAME_START_LEN);
	frame_put_u64(p, c->acked_off);
	p[8] = c->have_ack ? FRAME_START_TRUNCATE : 0;
	frame_put_u64(p + 9, c->ack_ino);
	frame_put_u64(p + 17, c->ack_size);
}

int
capture_attach(struct capture *c, struct event_base *base, int fd)
{
	unsigned char f[FRAME_HDR + FRAME_START_LEN];
	int fl = fcntl(fd, F_GETFL);

	if (c->fd >= 0)
		capture_detach(c);
	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_flush != NULL)
		event_free(c->ev_flush);
	c->ev_write = event_new(base, fd, EV_WRITE, capture_on_write, c);
	c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, capture_on_read, c);
	c->ev_flush = evtimer_new(base, capture_on_flush, c);
	if (c->ev_write == NULL || c->ev_read == NULL || c->ev_flush == NULL)
		return -1;
	/* A new channel's socket buffer is empty, so the small START frame always fits whole. */
	capture_start_frame(c, f);
	if (write(fd, f, sizeof(f)) != (ssize_t)sizeof(f))
		return -1;
	c->fd = fd;
	c->sink = NULL;
	c->acklen = 0;
	event_add(c->ev_read, NULL);
	if (evbuffer_get_length(c->out) > 0)
		event_add(c->ev_write, NULL);
	return 0;
}

void
capture_detach(struct capture *c)
{
	if (c->fd < 0)
		return;
	event_del(c->ev_write);
	event_del(c->ev_read);
	event_del(c->ev_flush);
	close(c->fd);
	c->fd = -1;
	/* What the store read but did not commit is sent again, in order, to the next store. */
	evbuffer_prepend_buffer(c->out, c->inflight);
	c->sent_off = c->acked_off;
	log_warn("capture: store channel closed; %zu bytes kept for the next store",
	         evbuffer_get_length(c->out));
}

int
capture_attached(const struct capture *c)
{
	return c->fd >= 0;
}

void
capture_free(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_flush)
		event_free(c->ev_flush);
	if (c->fd >= 0)
		close(c->fd);
	evbuffer_free(c->out);
	evbuffer_free(c->inflight);
	jw_free(&c->w);
	free(c);
}

const char *
capture_sensor(const struct capture *c)
{
	return c->sensor;
}

/* capture_over - is a frame of type and len refused by the backlog limits? Logs once per
 * episode; body chunks go first, so events keep being recorded longest */
static bool
capture_over(struct capture *c, enum frame_type type, size_t len)
{
	size_t pend = evbuffer_get_length(c->out) + evbuffer_get_length(c->inflight);
	size_t lim = type == FRAME_BODY ? CAPTURE_BODY_LIMIT : CAPTURE_LIMIT;

	if (pend + len <= lim) {
		if (c->dropping && pend < CAPTURE_BODY_LIMIT / 2) {
			log_info("capture: backlog down to %zu bytes; keeping everything again",
			         pend);
			c->dropping = false;
		}
		return false;
	}
	if (!c->dropping)
		log_err("capture: %zu bytes wait for the store; dropping %s until it catches up",
		        pend, type == FRAME_BODY ? "message body chunks" : "events");
	c->dropping = true;
	if (type == FRAME_BODY)
		c->dropped_bodies++;
	return true;
}

/* capture_frame - queue one frame; header and payload are added together so a frame is
 * never split by a failure in between */
static void
capture_frame(struct capture *c, enum frame_type type, const void *p1, size_t l1, const void *p2,
              size_t l2)
{
	unsigned char hdr[FRAME_HDR];

	if (l1 + l2 > FRAME_MAX) {
		c->dropped++;
		return;
	}
	if (c->sink != NULL) {
		c->queued += FRAME_HDR + l1 + l2;
		if (l2 == 0) {
			c->sink(c->sink_arg, type, p1, l1);
		} else {
			unsigned char *tmp = malloc(l1 + l2);
			if (tmp == NULL) {
				c->dropped++;
				return;
			}
			memcpy(tmp, p1, l1);
			memcpy(tmp + l1, p2, l2);
			c->sink(c->sink_arg, type, tmp, l1 + l2);
			free(tmp);
		}
		return;
	}
	if (capture_over(c, type, FRAME_HDR + l1 + l2)) {
		c->dropped++;
		return;
	}
	frame_header(hdr, type, l1 + l2);
	if (evbuffer_expand(c->out, FRAME_HDR + l1 + l2) == -1) {
		c->dropped++;
		return;
	}
	c->queued += FRAME_HDR + l1 + l2;
	evbuffer_add(c->out, hdr, FRAME_HDR);
	if (l1)
		evbuffer_add(c->out, p1, l1);
	if (l2)
		evbuffer_add(c->out, p2, l2);
	if (c->fd < 0 || event_pending(c->ev_write, EV_WRITE, NULL))
		return;
	if (evbuffer_get_length(c->out) >= FLUSH_BYTES) {
		event_del(c->ev_flush);
		event_add(c->ev_write, NULL);
	} else if (!evtimer_pending(c->ev_flush, NULL)) {
		struct timeval tv = {0, FLUSH_MS * 1000};

		evtimer_add(c->ev_flush, &tv);
	}
}

void
capture_prefix(struct capture *c, struct jw *out, const char *session, const char *src_ip,
               int src_port, const char *dst_ip, int dst_port, const char *persona,
               const char *listener)
{
	/* a bare run of fields, spliced into each event by jw_fields() */
	jw_reset(out);
	jw_key_str(out, "session", session);
	jw_key_str(out, "sensor", c->sensor);
	jw_key_str(out, "src_ip", src_ip);
	jw_key_int(out, "src_port", src_port);
	jw_key_str(out, "dst_ip", dst_ip);
	jw_key_int(out, "dst_port", dst_port);
	jw_key_str(out, "persona", persona);
	jw_key_str(out, "listener", listener);
}

struct jw *
capture_begin(struct capture *c, const char *eventid, const struct jw *prefix)
{
	char ts[40];

	jw_reset(&c->w);
	fmt_rfc3339(now_real_us(), ts, sizeof(ts));
	jw_obj_open(&c->w);
	jw_key_str(&c->w, "timestamp", ts);
	jw_key_str(&c->w, "eventid", eventid);
	if (prefix != NULL && prefix->len > 0)
		jw_fields(&c->w, prefix->buf, prefix->len);
	return &c->w;
}

void
capture_commit(struct capture *c)
{
	jw_obj_close(&c->w);
	if (c->w.oom) {
		c->dropped++;
		return;
	}
	c->events++;
	capture_frame(c, FRAME_EVENT, c->w.buf, c->w.len, NULL, 0);
}

void
capture_body(struct capture *c, const char *session, uint32_t tx, const void *data, size_t len)
{
	unsigned char head[1 + 32 + 4];
	size_t sl = strlen(session), off = 0, n;

	if (sl > 32)
		sl = 32;
	head[0] = (unsigned char)sl;
	memcpy(head + 1, session, sl);
	head[1 + sl] = (unsigned char)(tx >> 24);
	head[2 + sl] = (unsigned char)(tx >> 16);
	head[3 + sl] = (unsigned char)(tx >> 8);
	head[4 + sl] = (unsigned char)tx;
	while (off < len) {
		n = len - off > FRAME_BODY_CHUNK ? FRAME_BODY_CHUNK : len - off;
		capture_frame(c, FRAME_BODY, head, 5 + sl, (const char *)data + off, n);
		off += n;
	}
}

void
capture_flush_frame(struct capture *c)
{
	capture_frame(c, FRAME_FLUSH, NULL, 0, NULL, 0);
}

size_t
capture_pending(const struct capture *c)
{
	return evbuffer_get_length(c->out) + evbuffer_get_length(c->inflight);
}

uint64_t
capture_unacked(const struct capture *c)
{
	return (uint64_t)capture_pending(c);
}

uint64_t
capture_events(const struct capture *c)
{
	return c->events;
}

uint64_t
capture_queued(const struct capture *c)
{
	return c->queued;
}

uint64_t
capture_dropped(const struct capture *c)
{
	return c->dropped;
}

int
capture_wait_ack(struct capture *c, int timeout_ms)
{
	uint64_t deadline = now_mono_us() + (uint64_t)timeout_ms * 1000u, now;
	struct pollfd pfd;

	while (c->fd >= 0 && !c->have_ack && (now = now_mono_us()) < deadline) {
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000u) + 1) <= 0)
			continue;
		if (!capture_read_acks(c)) {
			capture_detach(c);
			return -1;
		}
	}
	return c->have_ack ? 0 : -1;
}

int
capture_finish(struct capture *c, int timeout_ms)
{
	uint64_t deadline = now_mono_us() + (uint64_t)timeout_ms * 1000u, now;
	struct pollfd pfd;
	bool wr_open = true;
	int r;

	if (c->fd < 0)
		return c->sink != NULL || capture_pending(c) == 0 ? 0 : -1;
	event_del(c->ev_write);
	event_del(c->ev_read);
	event_del(c->ev_flush);
	while (c->acked_off < c->sent_off || evbuffer_get_length(c->out) > 0) {
		if (wr_open && evbuffer_get_length(c->out) == 0) {
			/* all written: EOF tells the store to commit, acknowledge and exit */
			shutdown(c->fd, SHUT_WR);
			wr_open = false;
		}
		now = now_mono_us();
		if (now >= deadline)
			break;
		pfd.fd = c->fd;
		pfd.events = POLLIN | (wr_open ? POLLOUT : 0);
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)((deadline - now) / 1000u) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) && !capture_read_acks(c))
			break;
		if ((pfd.revents & POLLOUT) && !capture_write_some(c))
			break;
	}
	if (c->acked_off == c->sent_off && evbuffer_get_length(c->out) == 0)
		return 0;
	log_warn("capture: %llu bytes not acknowledged by the store at shutdown",
	         (unsigned long long)capture_pending(c));
	capture_detach(c);
	return -1;
}
