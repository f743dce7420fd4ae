/* SPDX-License-Identifier: ISC */
/* priv.h — the privilege model (doc/design.md "Users and permissions").
 *
 * One service user (config key `user`, default "etrnpoll" when that user
 * exists) owns the state dir.  Every entry point that touches the state
 * dir does so as that user: a poll or daemon started as root reads the
 * configuration and the secrets, then drops to it (supplementary groups
 * reset to the user's own, no capabilities left) before it opens anything
 * in the state dir.  Files etrnpoll trusts (secrets, hook programs and
 * their directories, CA files) are judged by one function, priv_check(). */
#ifndef ETP_PRIV_H
#define ETP_PRIV_H
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct etp_config;

/* What a file is trusted for. */
enum priv_kind {
    PRIV_SECRET,   /* password/API key: nobody but root and the service user may read it */
    PRIV_CODE,     /* hook program or hook directory: nobody else may write it */
    PRIV_TRUST,    /* CA file: nobody else may write it */
};

/* Resolve the service user of cfg (cfg->user, else "etrnpoll" if it exists).
 * Returns 1 found (ids set), 0 none (stay who we are), -1 the configured user
 * does not exist (logged, with what to do). */
int priv_resolve(const struct etp_config *cfg);
/* The service user's ids and names: resolved ones, else the effective ids. */
uid_t priv_uid(void);
gid_t priv_gid(void);
const char *priv_user_name(void);
const char *priv_group_name(void);

/* Judge an open file (st from fstat(fd)) for kind; fd may be -1 (then no
 * ACL is read).  0 fine, -1 refused with "PATH: what is wrong; run: FIX" in err. */
int priv_check_stat(const char *path, int fd, const struct stat *st, enum priv_kind kind,
                    char *err, size_t errsize);
/* The POSIX ACL in buf (the kernel's system.posix_acl_access layout): does
 * it give perm (4 read, 2 write) to a named user other than root/su or a
 * named group other than root/sg (after the mask)?  1 yes (*who, *isgroup
 * set), 0 no, -1 malformed.  Bounded by len; exported for the unit test. */
int priv_acl_foreign(const unsigned char *buf, size_t len, unsigned perm, uid_t su, gid_t sg,
                     unsigned long *who, int *isgroup);
/* Same by path (lstat: a symbolic link is judged as what it points to only
 * for PRIV_TRUST, whose files are usually links into /etc/ssl). */
int priv_check_path(const char *path, enum priv_kind kind, char *err, size_t errsize);

/* Poll entry (cycle_run): as root, preload the secrets, hand the state dir
 * to the service user and become it.  Also checks the CA files.  Returns
 * 0, or a sysexits code (logged) and the poll must not run. */
int priv_enter_poll(const struct etp_config *cfg);
/* Daemon entry (supervisor, after opening what needs root): hand the state
 * dir over and become the service user.  0 or a sysexits code (logged). */
int priv_drop(const struct etp_config *cfg);

/* `etrnpoll check` run as root: in a child that became the service user,
 * verify the config file, every secret and the state dir are usable, and
 * print the exact fix for each problem.  Returns 0 or a sysexits code.
 * Not root: checks the same as the current user. */
int priv_check_as_service(const struct etp_config *cfg);

/* Secrets preloaded as root before the drop (priv_enter_poll): returns 0
 * and a malloc'd copy in *out if path was preloaded, -1 otherwise. */
int priv_secret_cached(const char *path, char **out);
#endif
