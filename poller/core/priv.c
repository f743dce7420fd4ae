/* SPDX-License-Identifier: ISC */
/* priv.c — the privilege model: service user, drop, file trust checks. */
#include "conf/config.h"
#include "core/priv.h"
#include "core/lock.h"
#include "core/log.h"
#include "core/state.h"
#include "core/util.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static struct {
    int found;
    uid_t uid;
    gid_t gid;
    char user[64], group[64];
} g_svc;

int priv_resolve(const struct etp_config *cfg)
{
    const char *name = cfg && cfg->user && *cfg->user ? cfg->user : "etrnpoll";
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        g_svc.found = 0;
        if (cfg && cfg->user && *cfg->user) {
            log_err("user %s (config key \"user\") does not exist: create it "
                    "(adduser --system --group --no-create-home %s) or remove \"user\"", name, name);
            return -1;
        }
        return 0;
    }
    g_svc.found = 1;
    g_svc.uid = pw->pw_uid;
    g_svc.gid = pw->pw_gid;
    snprintf(g_svc.user, sizeof g_svc.user, "%s", name);
    struct group *gr = getgrgid(pw->pw_gid);
    if (gr)
        snprintf(g_svc.group, sizeof g_svc.group, "%s", gr->gr_name);
    else
        snprintf(g_svc.group, sizeof g_svc.group, "%lu", (unsigned long)pw->pw_gid);
    return 1;
}

uid_t priv_uid(void) { return g_svc.found ? g_svc.uid : geteuid(); }
gid_t priv_gid(void) { return g_svc.found ? g_svc.gid : getegid(); }

const char *priv_user_name(void)
{
    if (g_svc.found)
        return g_svc.user;
    struct passwd *pw = getpwuid(geteuid());
    return pw ? pw->pw_name : "root";
}

const char *priv_group_name(void)
{
    if (g_svc.found)
        return g_svc.group;
    struct group *gr = getgrgid(getegid());
    return gr ? gr->gr_name : "root";
}

/* ---- POSIX ACLs (system.posix_acl_access, the kernel's xattr layout) ---- */

#define ACL_XATTR_VERSION 2
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP 0x08
#define ACL_TAG_MASK 0x10

/* Does the ACL in buf give `perm` (4 read, 2 write) to a named user other
 * than root/su, or a named group other than root/sg?  1 yes (*who, *isgroup
 * set), 0 no, -1 malformed. */
int priv_acl_foreign(const unsigned char *buf, size_t len, unsigned perm, uid_t su, gid_t sg,
                     unsigned long *who, int *isgroup)
{
    if (len < 4 || (len - 4) % 8 != 0)
        return -1;
    uint32_t ver = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
    if (ver != ACL_XATTR_VERSION)
        return -1;
    unsigned mask = 7;
    for (size_t off = 4; off + 8 <= len; off += 8)
        if ((buf[off] | buf[off + 1] << 8) == ACL_TAG_MASK)
            mask = (unsigned)(buf[off + 2] | buf[off + 3] << 8) & 7;
    for (size_t off = 4; off + 8 <= len; off += 8) {
        unsigned tag = (unsigned)(buf[off] | buf[off + 1] << 8);
        unsigned p = (unsigned)(buf[off + 2] | buf[off + 3] << 8) & mask;
        unsigned long id = (unsigned long)buf[off + 4] | (unsigned long)buf[off + 5] << 8 |
                           (unsigned long)buf[off + 6] << 16 | (unsigned long)buf[off + 7] << 24;
        if (!(p & perm))
            continue;
        if (tag == ACL_TAG_USER && id != 0 && id != (unsigned long)su) {
            *who = id;
            *isgroup = 0;
            return 1;
        }
        if (tag == ACL_TAG_GROUP && id != 0 && id != (unsigned long)sg) {
            *who = id;
            *isgroup = 1;
            return 1;
        }
    }
    return 0;
}

static void fix_text(char *fix, size_t n, const char *path, enum priv_kind kind, int isdir)
{
    if (kind == PRIV_SECRET) {
        if (priv_uid() != 0)
            snprintf(fix, n, "chown root:%s %s && chmod 0640 %s", priv_group_name(), path, path);
        else
            snprintf(fix, n, "chown root:root %s && chmod 600 %s", path, path);
    } else if (kind == PRIV_CODE) {
        snprintf(fix, n, "chown root:root %s && chmod 0755 %s", path, path);
    } else {
        (void)isdir;
        snprintf(fix, n, "chown root:root %s && chmod 0644 %s", path, path);
    }
}

int priv_check_stat(const char *path, int fd, const struct stat *st, enum priv_kind kind,
                    char *err, size_t errsize)
{
    char fix[2 * 4096 + 80];
    int isdir = S_ISDIR(st->st_mode);
    fix_text(fix, sizeof fix, path, kind, isdir);
    const char *what = kind == PRIV_SECRET ? "secret file" : kind == PRIV_CODE ?
                       (isdir ? "hook directory" : "hook program") : "CA file";
    uid_t su = priv_uid();
    gid_t sg = priv_gid();
    if (!S_ISREG(st->st_mode) && !(kind == PRIV_CODE && isdir)) {
        snprintf(err, errsize, "%s: %s is not a regular file", path, what);
        return -1;
    }
    if (st->st_uid != 0 && st->st_uid != su && st->st_uid != geteuid()) {
        snprintf(err, errsize, "%s: %s is owned by uid %lu, not by root or by %s (uid %lu); run: %s",
                 path, what, (unsigned long)st->st_uid, priv_user_name(), (unsigned long)su, fix);
        return -1;
    }
    mode_t m = st->st_mode & 07777;
    if ((m & S_IWOTH) || ((m & S_IWGRP) && (kind == PRIV_SECRET || st->st_gid != 0))) {
        snprintf(err, errsize, "%s: %s is accessible by others (writable by %s, mode %04o); run: %s", path, what,
                 (m & S_IWOTH) ? "others" : "its group", (unsigned)m, fix);
        return -1;
    }
    if (kind == PRIV_SECRET) {
        if (m & (S_IROTH | S_IXOTH)) {
            snprintf(err, errsize, "%s: secret file is accessible by others (readable, mode %04o); run: %s",
                     path, (unsigned)m, fix);
            return -1;
        }
        if ((m & S_IRGRP) && st->st_gid != 0 && st->st_gid != sg) {
            snprintf(err, errsize, "%s: secret file is readable by group %lu, not only by %s's "
                     "group %s (mode %04o); run: %s", path, (unsigned long)st->st_gid,
                     priv_user_name(), priv_group_name(), (unsigned)m, fix);
            return -1;
        }
    }
    unsigned char acl[1024];
    ssize_t al = fd >= 0 ? fgetxattr(fd, "system.posix_acl_access", acl, sizeof acl)
                         : getxattr(path, "system.posix_acl_access", acl, sizeof acl);
    if (al < 0 && errno == ERANGE) {
        snprintf(err, errsize, "%s: %s has an ACL too long to judge; run: setfacl -b %s", path, what, path);
        return -1;
    }
    if (al > 0) {
        unsigned long who = 0;
        int isgroup = 0;
        int r = priv_acl_foreign(acl, (size_t)al, kind == PRIV_SECRET ? 4u : 2u, su, sg, &who, &isgroup);
        if (r != 0) {
            if (r < 0)
                snprintf(err, errsize, "%s: %s has an ACL etrnpoll cannot read; run: setfacl -b %s",
                         path, what, path);
            else
                snprintf(err, errsize, "%s: %s has an ACL that lets %s %lu %s it; run: setfacl -b %s && %s",
                         path, what, isgroup ? "group" : "user", who,
                         kind == PRIV_SECRET ? "read" : "write", path, fix);
            return -1;
        }
    }
    return 0;
}

int priv_check_path(const char *path, enum priv_kind kind, char *err, size_t errsize)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errsize, "%s: %s", path, strerror(errno));
        return -1;
    }
    return priv_check_stat(path, -1, &st, kind, err, errsize);
}

/* ---- secrets preloaded as root ----------------------------------------- */

#define PRELOAD_MAX (CFG_MAX_RELAYS + CFG_MAX_DDNS)
static struct { char *path, *secret; } g_pre[PRELOAD_MAX];
static int g_npre;

static void preload_wipe(void)
{
    for (int i = 0; i < g_npre; i++) {
        secret_free(g_pre[i].secret);
        free(g_pre[i].path);
    }
    g_npre = 0;
}

int priv_secret_cached(const char *path, char **out)
{
    for (int i = 0; i < g_npre; i++)
        if (strcmp(g_pre[i].path, path) == 0) {
            *out = strdup(g_pre[i].secret);
            return *out ? 0 : -1;
        }
    return -1;
}

static void preload_one(const char *path)
{
    if (!path || g_npre >= PRELOAD_MAX)
        return;
    for (int i = 0; i < g_npre; i++)
        if (strcmp(g_pre[i].path, path) == 0)
            return;
    char *s = NULL, err[600];
    if (secret_read(path, &s, err, sizeof err) < 0)
        return;                       /* reported again (and then logged) where it is used */
    char *p = strdup(path);
    if (!p) {
        secret_free(s);
        return;
    }
    if (g_npre == 0)
        atexit(preload_wipe);
    g_pre[g_npre].path = p;
    g_pre[g_npre].secret = s;
    g_npre++;
}

/* ---- the drop ------------------------------------------------------------ */

static int is_state_name(const char *n)
{
    size_t l = strlen(n);
    return strcmp(n, "poll.lock") == 0 || (l > 5 && n[0] != '.' && strcmp(n + l - 5, ".json") == 0) ||
           (strncmp(n, "tls-", 4) == 0 && l > 8 && strcmp(n + l - 8, ".session") == 0);
}

/* As root: create the state dir, give a root-owned one (and the state files
 * an older root poll left in it) to the service user.  Never follows a
 * link; a file with more than one link is left alone. */
static void hand_over_state_dir(const char *dir, uid_t uid, gid_t gid)
{
    if (mkdir_p(dir, 0700) < 0) {
        log_warn("state dir %s: %s", dir, strerror(errno));
        return;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (dfd < 0 || fstat(dfd, &st) < 0) {
        if (dfd >= 0)
            close(dfd);
        return;                       /* state_dir_ready() says what is wrong */
    }
    if (st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH))) {
        if (fchown(dfd, uid, gid) < 0)
            log_warn("chown %s to %s: %s", dir, g_svc.user, strerror(errno));
        else
            st.st_uid = uid;
    }
    if (st.st_uid != uid) {
        close(dfd);
        return;
    }
    int d2 = dup(dfd);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (!d) {
        if (d2 >= 0)
            close(d2);
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_state_name(de->d_name))
            continue;
        int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat fs;
        if (fd < 0)
            continue;
        if (fstat(fd, &fs) == 0 && S_ISREG(fs.st_mode) && fs.st_uid == 0 && fs.st_nlink == 1) {
            if (fchown(fd, uid, gid) == 0)
                log_info("state file %s/%s (left by a poll as root) now belongs to %s", dir,
                         de->d_name, g_svc.user);
        }
        close(fd);
    }
    closedir(d);
    close(dfd);
}

/* capget(2) through syscall(2), with the kernel's v3 layout spelled out
 * here (no <linux/capability.h>, which musl toolchains may lack) */
struct etp_cap_header { uint32_t version; int pid; };
struct etp_cap_data { uint32_t effective, permitted, inheritable; };
#define ETP_CAP_VERSION_3 0x20080522u

static int no_capabilities(void)
{
    struct etp_cap_header h = { .version = ETP_CAP_VERSION_3, .pid = 0 };
    struct etp_cap_data d[2];
    memset(d, 0, sizeof d);
    if (syscall(SYS_capget, &h, d) < 0)
        return 0;
    for (int i = 0; i < 2; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable)
            return 0;
    return 1;
}

static int become(uid_t uid, gid_t gid, const char *user)
{
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    /* supplementary groups: the service user's own (from /etc/group), none of root's */
    if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        log_err("cannot become user %s: %s", user, strerror(errno));
        return -1;
    }
    gid_t groups[64];
    int ng = getgroups((int)ETP_ARRAY_LEN(groups), groups);
    int has_root_group = 0;
    for (int i = 0; i < ng; i++)
        has_root_group |= groups[i] == 0;
    if (setuid(0) == 0 || getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid ||
        !no_capabilities() || (gid != 0 && has_root_group)) {
        log_err("dropping privileges to %s did not take effect", user);
        return -1;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);   /* changing ids may have reset it */
    return 0;
}

static int drop_common(const struct etp_config *cfg, int preload)
{
    if (geteuid() != 0)
        return 0;
    int r = priv_resolve(cfg);
    if (r < 0)
        return EX_CONFIG;
    if (r == 0 || g_svc.uid == 0) {
        log_debug("no service user (\"user\" unset and no user etrnpoll): running as root");
        return 0;
    }
    if (preload) {
        for (int i = 0; i < cfg->nrelays; i++)
            preload_one(cfg->relays[i].password_file);
        for (int i = 0; i < cfg->nddns; i++)
            preload_one(cfg->ddns[i].password_file);
    }
    if (cfg->state_dir && *cfg->state_dir)
        hand_over_state_dir(cfg->state_dir, g_svc.uid, g_svc.gid);
    if (become(g_svc.uid, g_svc.gid, g_svc.user) < 0)
        return EX_NOPERM;
    log_info("running as user %s (uid %lu, gid %lu)", g_svc.user, (unsigned long)g_svc.uid,
             (unsigned long)g_svc.gid);
    return 0;
}

static int check_ca_files(const struct etp_config *cfg)
{
    int rc = 0;
    char err[9000];
    for (int i = 0; i < cfg->nrelays; i++)
        if (cfg->relays[i].ca_file && priv_check_path(cfg->relays[i].ca_file, PRIV_TRUST, err, sizeof err) < 0) {
            log_err("relay %s: %s", cfg->relays[i].name, err);
            rc = EX_CONFIG;
        }
    for (int i = 0; i < cfg->nddns; i++)
        if (cfg->ddns[i].ca_file && priv_check_path(cfg->ddns[i].ca_file, PRIV_TRUST, err, sizeof err) < 0) {
            log_err("ddns %s: %s", cfg->ddns[i].name, err);
            rc = EX_CONFIG;
        }
    return rc;
}

int priv_enter_poll(const struct etp_config *cfg)
{
    /* not root: we are the service user (cron, the units, the daemon's
     * children), whatever passwd says about `user` */
    int rc = drop_common(cfg, 1);
    if (rc)
        return rc;
    return check_ca_files(cfg);
}

int priv_drop(const struct etp_config *cfg)
{
    return drop_common(cfg, 0);
}

/* configured hook programs, the hooks dir and its POINT.d directories */
static int check_hooks(const struct etp_config *cfg)
{
    int rc = 0;
    char err[9000], path[4096 + 32];
    char *const *progs[] = { cfg->hooks.pre_poll, cfg->hooks.post_poll, cfg->hooks.hold_done,
                             cfg->hold.flush_argv };
    int nprogs[] = { cfg->hooks.npre, cfg->hooks.npost, cfg->hooks.nhold, cfg->hold.nflush };
    for (size_t i = 0; i < ETP_ARRAY_LEN(progs); i++)
        if (nprogs[i] > 0 && progs[i][0] && priv_check_path(progs[i][0], PRIV_CODE, err, sizeof err) < 0) {
            log_err("%s", err);
            rc = EX_CONFIG;
        }
    if (!cfg->hooks.dir)
        return rc;
    static const char *const points[] = { "", "/pre-poll.d", "/post-poll.d", "/hold-done.d" };
    for (size_t i = 0; i < ETP_ARRAY_LEN(points); i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s%s", cfg->hooks.dir, points[i]);
        if (stat(path, &st) == 0 && priv_check_stat(path, -1, &st, PRIV_CODE, err, sizeof err) < 0) {
            log_err("%s", err);
            rc = EX_CONFIG;
        }
    }
    return rc;
}

/* ---- check ---------------------------------------------------------------- */

static int check_here(const struct etp_config *cfg)
{
    int rc = 0;
    char err[9000];
    const char *who = priv_user_name();
    int fd = open(cfg->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        printf("as %s: config %s: %s; run: chown root:%s %s && chmod 0640 %s\n", who, cfg->path,
               strerror(errno), priv_group_name(), cfg->path, cfg->path);
        rc = EX_CONFIG;
    } else {
        close(fd);
    }
    for (int i = 0; i < cfg->nrelays + cfg->nddns; i++) {
        const char *pf = i < cfg->nrelays ? cfg->relays[i].password_file : cfg->ddns[i - cfg->nrelays].password_file;
        if (!pf)
            continue;
        char *s = NULL;
        if (secret_read(pf, &s, err, sizeof err) < 0) {
            if (errno == EACCES || strstr(err, "Permission denied"))
                printf("as %s: %s: Permission denied; run: chown root:%s %s && chmod 0640 %s\n", who, pf,
                       priv_group_name(), pf, pf);
            else
                printf("as %s: %s\n", who, err);
            rc = EX_CONFIG;
        }
        secret_free(s);
    }
    if (check_ca_files(cfg) || check_hooks(cfg))
        rc = EX_CONFIG;
    /* what the service user must be able to read after the drop */
    for (int i = 0; i < cfg->nrelays + cfg->nddns; i++) {
        const char *ca = i < cfg->nrelays ? cfg->relays[i].ca_file : cfg->ddns[i - cfg->nrelays].ca_file;
        if (ca && access(ca, R_OK) < 0) {
            printf("as %s: CA file %s: %s; run: chmod 0644 %s\n", who, ca, strerror(errno), ca);
            rc = EX_CONFIG;
        }
    }
    struct stat sst;
    if (stat(cfg->state_dir, &sst) < 0 && errno == ENOENT) {
        printf("as %s: state dir %s does not exist yet (the first poll creates it, or "
               "systemd's StateDirectory=)\n", who, cfg->state_dir);
    } else if (state_dir_ready(cfg->state_dir) < 0) {
        printf("as %s: state dir %s is not usable (see the message above); run: "
               "mkdir -p %s && chown %s:%s %s && chmod 0700 %s\n", who, cfg->state_dir, cfg->state_dir,
               who, priv_group_name(), cfg->state_dir, cfg->state_dir);
        rc = exit_worst(rc, EX_CANTCREAT);
    } else if (lock_check(cfg->state_dir, err, sizeof err) < 0) {
        printf("as %s: %s\n", who, err);
        rc = exit_worst(rc, EX_CANTCREAT);
    }
    return rc;
}

int priv_check_as_service(const struct etp_config *cfg)
{
    if (geteuid() != 0)
        return check_here(cfg);       /* we are what the units will be */
    if (priv_resolve(cfg) < 0)
        return EX_CONFIG;
    int rc = exit_worst(check_ca_files(cfg), check_hooks(cfg));
    if (!g_svc.found || g_svc.uid == 0)
        return rc;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        log_err("fork: %s", strerror(errno));
        return EX_OSERR;
    }
    if (pid == 0) {
        if (cfg->state_dir && *cfg->state_dir)
            hand_over_state_dir(cfg->state_dir, g_svc.uid, g_svc.gid);
        if (become(g_svc.uid, g_svc.gid, g_svc.user) < 0)
            _exit(EX_NOPERM);
        int hrc = check_here(cfg);
        fflush(stdout);
        _exit(hrc);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int crc = WIFEXITED(st) ? WEXITSTATUS(st) : EX_SOFTWARE;
    if (crc == 0)
        printf("as %s: configuration, secrets and state dir %s are usable\n", g_svc.user, cfg->state_dir);
    return exit_worst(rc, crc);
}
