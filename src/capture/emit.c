/* SPDX-License-Identifier: ISC */
/*
 * emit - the engine side of capture (see emit.h).
 */
#include "capture/emit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "core/log.h"
#include "core/util.h"

struct capture {
	char sensor[64];
	capture_sink_fn sink;
	void *sink_arg;
	int fd;
	struct event *ev_write;
	struct evbuffer *out;
	struct jw w;
	uint64_t dropped;
	int broken;
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
	if (c->out == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* capture_on_write - the store socket is writable: push out what is queued */
static void
capture_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;
	int n;

	while (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_err("capture: store socket write failed: %s; events are being lost",
			        strerror(errno));
			c->broken = 1;
			evbuffer_drain(c->out, evbuffer_get_length(c->out));
			break;
		}
		if (n == 0)
			break;
	}
	if (evbuffer_get_length(c->out) > 0 && !c->broken)
		event_add(c->ev_write, NULL);
}

int
capture_attach(struct capture *c, struct event_base *base, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return -1;
	c->ev_write = event_new(base, fd, EV_WRITE, capture_on_write, c);
	if (c->ev_write == NULL)
		return -1;
	c->fd = fd;
	c->sink = NULL;
	return 0;
}

void
capture_free(struct capture *c)
{
	if (c == NULL)
		return;
	if (c->ev_write)
		event_free(c->ev_write);
	evbuffer_free(c->out);
	jw_free(&c->w);
	free(c);
}

const char *
capture_sensor(const struct capture *c)
{
	return c->sensor;
}

/* capture_frame - queue one frame; header and payload are added together so a frame is
 * never split by a failure in between */
static void
capture_frame(struct capture *c, enum frame_type type, const void *p1, size_t l1, const void *p2,
              size_t l2)
{
	unsigned char hdr[FRAME_HDR];

	if (l1 + l2 > FRAME_MAX || c->broken) {
		c->dropped++;
		return;
	}
	if (c->sink != NULL) {
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
	frame_header(hdr, type, l1 + l2);
	if (evbuffer_expand(c->out, FRAME_HDR + l1 + l2) == -1) {
		c->dropped++;
		return;
	}
	evbuffer_add(c->out, hdr, FRAME_HDR);
	if (l1)
		evbuffer_add(c->out, p1, l1);
	if (l2)
		evbuffer_add(c->out, p2, l2);
	if (c->ev_write != NULL && !event_pending(c->ev_write, EV_WRITE, NULL))
		event_add(c->ev_write, NULL);
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
	return evbuffer_get_length(c->out);
}

uint64_t
capture_dropped(const struct capture *c)
{
	return c->dropped;
}

int
capture_drain_blocking(struct capture *c)
{
	struct pollfd pfd;
	int n;

	if (c->fd < 0)
		return 0;
	pfd.fd = c->fd;
	pfd.events = POLLOUT;
	while (evbuffer_get_length(c->out) > 0 && !c->broken) {
		if (poll(&pfd, 1, 5000) <= 0) {
			log_err("capture: store not reading at shutdown; %zu bytes unsent",
			        evbuffer_get_length(c->out));
			return -1;
		}
		n = evbuffer_write(c->out, c->fd);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			log_err("capture: store socket write failed at shutdown: %s",
			        strerror(errno));
			return -1;
		}
	}
	return 0;
}
