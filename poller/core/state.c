/* state.c — atomic state files (write temp, fsync, rename). */
#include "conf/config.h"
#include "core/state.h"
#include "core/log.h"
#include "core/util.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Remove ".NAME.PID.tmp" files left by a writer that was killed between
 * creating and renaming them (their pid no longer exists). */
static void remove_stale_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        if (n[0] != '.' || len < 6 || strcmp(n + len - 4, ".tmp") != 0)
            continue;
        const char *dot = n + len - 5;            /* last char of the pid */
        while (dot > n && *dot >= '0' && *dot <= '9')
            dot--;
        if (*dot != '.' || dot == n + len - 5)
            continue;
        long pid = strtol(dot + 1, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        if (unlinkat(dirfd(d), n, 0) == 0)
            log_info("removed %s/%s left by a killed process", dir, n);
    }
    closedir(d);
}

int state_dir_ready(const char *dir)
{
    if (mkdir_p(dir, 0700) < 0) {
        log_err("state dir %s: %s", dir, strerror(errno));
        return -1;
    }
    remove_stale_temps(dir);
    if (access(dir, W_OK) < 0) {
        log_err("state dir %s is not writable: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int state_write_raw(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096], tmp[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.%ld.tmp", dir, name, (long)getpid()) >= (int)sizeof tmp) {
        log_err("state file name too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_err("cannot write state %s: %s", tmp, strerror(errno));
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
    return read_small_file(path, max, len);
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
    json_object *o = json_tokener_parse(buf);
    free(buf);
    if (!o)
        errno = EINVAL;
    return o;
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
