/* SPDX-License-Identifier: ISC */
/* state.c — atomic state files (write temp, fsync, rename). */
#include "conf/config.h"
#include "core/state.h"
#include "core/log.h"
#include "core/util.h"
#include "core/priv.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Remove ".NAME.XXXXXX.tmp" files (and the older ".NAME.PID.tmp" ones) a
 * writer left when it was killed between creating and renaming them.  Only
 * called with the poll lock held: no other writer is running, so every
 * temporary file is stale whatever name or pid it carries.  unlink never
 * follows a link. */
void state_remove_stale_temps(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (nm[0] != '.' || len < 6 || strcmp(nm + len - 4, ".tmp") != 0)
            continue;
        if (unlinkat(dirfd(d), nm, 0) == 0 && n++ < 5)
            log_info("removed %s/%s left by a killed process", dir, nm);
    }
    if (n > 5)
        log_info("removed %d stale temporary files in %s", n, dir);
    closedir(d);
}

int state_dir_ready(const char *dir)
{
    if (mkdir_p(dir, 0700) < 0) {
        log_err("state dir %s: %s; create it: mkdir -p %s && chown %s %s && chmod 0700 %s", dir,
                strerror(errno), dir, priv_user_name(), dir, dir);
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) < 0) {
        log_err("state dir %s: %s (it must be a directory, not a symbolic link)", dir,
                strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    close(dfd);
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        log_err("state dir %s belongs to uid %lu, not to %s (uid %lu) or root; run: chown %s %s",
                dir, (unsigned long)st.st_uid, priv_user_name(), (unsigned long)geteuid(),
                priv_user_name(), dir);
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        log_err("state dir %s is writable by %s (mode %04o): others could plant files there; "
                "run: chmod 0700 %s", dir, (st.st_mode & S_IWOTH) ? "others" : "its group",
                (unsigned)(st.st_mode & 07777), dir);
        return -1;
    }
    if (access(dir, W_OK) < 0 && errno == EROFS) {
        log_warn("state dir %s is on a read-only file system: polling, but the results "
                 "cannot be recorded (exit 73)", dir);
        return 0;
    }
    if (access(dir, W_OK) < 0) {
        log_err("state dir %s is not writable by %s: %s; run: chown %s %s", dir, priv_user_name(),
                strerror(errno), priv_user_name(), dir);
        return -1;
    }
    return 0;
}

int state_write_raw(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096], tmp[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX.tmp", dir, name) >= (int)sizeof tmp) {
        log_err("state file name too long");
        return -1;
    }
    /* O_EXCL, an unpredictable name, mode 0600: nothing planted can be
     * written through */
    int fd = mkostemps(tmp, 4, O_CLOEXEC);
    if (fd < 0) {
        log_err("cannot write state %s: %s", path, strerror(errno));
        return -1;
    }
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        log_err("cannot write state %s: %s (old state kept)", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        log_err("cannot replace state %s: %s (old state kept)", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* make the rename durable */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

void *state_read_raw(const char *dir, const char *name, size_t max, size_t *len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            log_warn("state file %s is a symbolic link: ignored (etrnpoll never reads through one); "
                     "remove it: rm %s", path, path);
        else if (e == EACCES)
            log_warn("state file %s is not readable by %s: ignored; remove it: rm %s", path,
                     priv_user_name(), path);
        errno = e;
        return NULL;
    }
    struct stat st, dst;
    const char *why = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if (st.st_nlink != 1)
        why = "has more than one hard link";
    else if (st.st_uid != 0 && st.st_uid != geteuid() &&
             (stat(dir, &dst) < 0 || st.st_uid != dst.st_uid))
        why = "is not owned by the state dir's owner or root";
    if (why) {
        log_warn("state file %s %s: ignored; remove it: rm %s", path, why, path);
        close(fd);
        errno = EPERM;
        return NULL;
    }
    return read_small_fd(fd, max, len);
}

int state_write_json(const char *dir, const char *name, json_object *obj)
{
    const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!s)
        return -1;
    char *copy = strdup(s);
    if (!copy)
        return -1;
    size_t n = strlen(copy);
    int r;
    char *withnl = realloc(copy, n + 2);
    if (withnl) {
        withnl[n] = '\n';
        withnl[n + 1] = '\0';
        r = state_write_raw(dir, name, withnl, n + 1);
        free(withnl);
    } else {
        r = state_write_raw(dir, name, copy, n);
        free(copy);
    }
    return r;
}

json_object *state_read_json(const char *dir, const char *name)
{
    size_t len;
    char *buf = state_read_raw(dir, name, 1 << 20, &len);
    if (!buf)
        return NULL;
    json_object *o = js_parse_bounded(buf, len, 1 << 20, JSON_TOKENER_DEFAULT_DEPTH);
    free(buf);
    if (!o)
        errno = EINVAL;
    return o;
}

json_object *js_parse_bounded(const char *buf, size_t len, size_t max, int depth)
{
    if (!buf || len > max || len > INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(depth);
    if (!tok)
        return NULL;
    json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

const char *js_str(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

long long js_int(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v))
        return 0;
    return (long long)json_object_get_int64(v);
}
