/* SPDX-License-Identifier: ISC */
/* sdnotify.c — tell systemd how the daemon is (sd_notify protocol over
 * NOTIFY_SOCKET, no libsystemd). */
#include "link/sup.h"
#include "core/log.h"
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ======================================================================
 * systemd notification (sd_notify protocol, no libsystemd)
 * ====================================================================== */


void notify_open(struct notifier *n)
{
    n->fd = -1;
    const char *e = getenv("NOTIFY_SOCKET");
    if (!e || !*e)
        return;
    size_t len = strlen(e);
    if ((e[0] != '/' && e[0] != '@') || len < 2 || len >= sizeof n->sa.sun_path) {
        log_warn("NOTIFY_SOCKET=%s: unsupported address; not notifying the service manager", e);
    } else {
        memset(&n->sa, 0, sizeof n->sa);
        n->sa.sun_family = AF_UNIX;
        memcpy(n->sa.sun_path, e, len);
        if (e[0] == '@')
            n->sa.sun_path[0] = '\0';             /* abstract namespace */
        n->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (n->fd < 0)
            log_warn("NOTIFY_SOCKET: socket: %s", strerror(errno));
    }
    /* Poll cycles and the hooks they run must not talk to systemd. */
    unsetenv("NOTIFY_SOCKET");
}

void notify(struct notifier *n, const char *fmt, ...)
{
    if (n->fd < 0)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof buf)
        len = (int)sizeof buf - 1;
    /* Datagram: whole or nothing.  A failure is logged at debug level only
     * (the manager may be restarting); the next message tries again. */
    if (sendto(n->fd, buf, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&n->sa, n->salen) < 0)
        log_debug("sd_notify: %s", strerror(errno));
}

