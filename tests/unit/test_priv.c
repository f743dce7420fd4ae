/* SPDX-License-Identifier: ISC */
/* Unit tests: the trust judgement of core/priv.c (modes, owners, groups,
 * POSIX ACL entries as the kernel stores them) and the state-file rules. */
#include "conf/config.h"
#include "core/priv.h"
#include "core/state.h"
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* an ACL buffer: header + entries (tag, perm, id) */
static size_t acl(unsigned char *b, const unsigned (*e)[3], int n)
{
    b[0] = 2; b[1] = b[2] = b[3] = 0;
    for (int i = 0; i < n; i++) {
        unsigned char *p = b + 4 + 8 * i;
        p[0] = (unsigned char)e[i][0]; p[1] = (unsigned char)(e[i][0] >> 8);
        p[2] = (unsigned char)e[i][1]; p[3] = 0;
        p[4] = (unsigned char)e[i][2]; p[5] = (unsigned char)(e[i][2] >> 8);
        p[6] = (unsigned char)(e[i][2] >> 16); p[7] = (unsigned char)(e[i][2] >> 24);
    }
    return 4 + 8 * (size_t)n;
}
#define UOBJ 0x01
#define USER 0x02
#define GOBJ 0x04
#define GROUP 0x08
#define MASK 0x10
#define OTHER 0x20
#define UNDEF 0xffffffffu

START_TEST(acl_entries)
{
    unsigned char b[256];
    unsigned long who = 0;
    int isg = -1;
    const unsigned foreign_user[][3] = { { UOBJ, 6, UNDEF }, { USER, 4, 65534 }, { GOBJ, 4, UNDEF },
                                         { MASK, 4, UNDEF }, { OTHER, 0, UNDEF } };
    size_t n = acl(b, foreign_user, 5);
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 999, 999, &who, &isg), 1);
    ck_assert_uint_eq(who, 65534);
    ck_assert_int_eq(isg, 0);
    ck_assert_int_eq(priv_acl_foreign(b, n, 2, 999, 999, &who, &isg), 0);  /* read only, not write */
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 65534, 999, &who, &isg), 0); /* that is the service user */
    const unsigned masked[][3] = { { UOBJ, 6, UNDEF }, { USER, 4, 65534 }, { GOBJ, 0, UNDEF },
                                   { MASK, 0, UNDEF }, { OTHER, 0, UNDEF } };
    n = acl(b, masked, 5);
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 999, 999, &who, &isg), 0);   /* mask --- */
    const unsigned svc_group[][3] = { { UOBJ, 6, UNDEF }, { GOBJ, 0, UNDEF }, { GROUP, 4, 999 },
                                      { MASK, 4, UNDEF }, { OTHER, 0, UNDEF } };
    n = acl(b, svc_group, 5);
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 999, 999, &who, &isg), 0);
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 999, 1000, &who, &isg), 1);
    ck_assert_int_eq(isg, 1);
    const unsigned root_user[][3] = { { UOBJ, 6, UNDEF }, { USER, 7, 0 }, { MASK, 7, UNDEF } };
    n = acl(b, root_user, 3);
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 999, 999, &who, &isg), 0);
    /* malformed: not a whole number of entries, wrong version, too short */
    ck_assert_int_eq(priv_acl_foreign(b, n - 1, 4, 999, 999, &who, &isg), -1);
    b[0] = 1;
    ck_assert_int_eq(priv_acl_foreign(b, n, 4, 999, 999, &who, &isg), -1);
    ck_assert_int_eq(priv_acl_foreign(b, 3, 4, 999, 999, &who, &isg), -1);
    ck_assert_int_eq(priv_acl_foreign(b, 0, 4, 999, 999, &who, &isg), -1);
}
END_TEST

static int judge(mode_t mode, uid_t uid, gid_t gid, enum priv_kind k, char *err, size_t n)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = mode;
    st.st_uid = uid;
    st.st_gid = gid;
    st.st_nlink = 1;
    return priv_check_stat("/nonexistent/etp-test-F", -1, &st, k, err, n);
}

START_TEST(modes_and_owners)
{
    char e[2000];
    /* not root, no service user resolved: the service ids are our own */
    uid_t me = geteuid();
    gid_t mg = getegid();
    ck_assert_int_eq(judge(S_IFREG | 0600, 0, 0, PRIV_SECRET, e, sizeof e), 0);
    ck_assert_int_eq(judge(S_IFREG | 0640, 0, mg, PRIV_SECRET, e, sizeof e), 0);
    ck_assert_int_eq(judge(S_IFREG | 0640, me, mg, PRIV_SECRET, e, sizeof e), 0);
    ck_assert_int_eq(judge(S_IFREG | 0644, 0, mg, PRIV_SECRET, e, sizeof e), -1);
    ck_assert_ptr_nonnull(strstr(e, "accessible by others"));
    ck_assert_ptr_nonnull(strstr(e, "run: chown root:"));
    ck_assert_int_eq(judge(S_IFREG | 0640, 0, mg + 4242, PRIV_SECRET, e, sizeof e), -1);
    ck_assert_ptr_nonnull(strstr(e, "readable by group"));
    ck_assert_int_eq(judge(S_IFREG | 0620, 0, mg, PRIV_SECRET, e, sizeof e), -1);
    ck_assert_int_eq(judge(S_IFREG | 0600, me + 4242, 0, PRIV_SECRET, e, sizeof e), -1);
    ck_assert_ptr_nonnull(strstr(e, "owned by uid"));
    ck_assert_int_eq(judge(S_IFDIR | 0700, 0, 0, PRIV_SECRET, e, sizeof e), -1);
    ck_assert_int_eq(judge(S_IFIFO | 0600, 0, 0, PRIV_SECRET, e, sizeof e), -1);
    ck_assert_ptr_nonnull(strstr(e, "not a regular file"));
    /* hook programs and directories: nobody else may write */
    ck_assert_int_eq(judge(S_IFREG | 0755, 0, 0, PRIV_CODE, e, sizeof e), 0);
    ck_assert_int_eq(judge(S_IFDIR | 0755, 0, 0, PRIV_CODE, e, sizeof e), 0);
    ck_assert_int_eq(judge(S_IFREG | 0775, 0, 0, PRIV_CODE, e, sizeof e), 0);      /* group root */
    ck_assert_int_eq(judge(S_IFREG | 0775, 0, 4242, PRIV_CODE, e, sizeof e), -1);
    ck_assert_int_eq(judge(S_IFDIR | 0777, 0, 0, PRIV_CODE, e, sizeof e), -1);
    ck_assert_int_eq(judge(S_IFDIR | 01777, 0, 0, PRIV_CODE, e, sizeof e), -1);    /* /tmp-like */
    ck_assert_int_eq(judge(S_IFREG | 0755, me + 4242, 0, PRIV_CODE, e, sizeof e), -1);
    /* CA files */
    ck_assert_int_eq(judge(S_IFREG | 0644, 0, 0, PRIV_TRUST, e, sizeof e), 0);
    ck_assert_int_eq(judge(S_IFREG | 0666, 0, 0, PRIV_TRUST, e, sizeof e), -1);
    ck_assert_ptr_nonnull(strstr(e, "chmod 0644"));
    ck_assert_int_eq(judge(S_IFDIR | 0755, 0, 0, PRIV_TRUST, e, sizeof e), -1);
}
END_TEST

START_TEST(state_files)
{
    char dir[] = "/tmp/etp-priv-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p[256], q[256];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "k", json_object_new_string("v"));
    ck_assert_int_eq(state_write_json(dir, "a.json", o), 0);
    json_object_put(o);
    json_object *r = state_read_json(dir, "a.json");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(js_str(r, "k"), "v");
    json_object_put(r);
    /* a symlink, a hard link, a FIFO: refused, and no hang */
    snprintf(p, sizeof p, "%s/a.json", dir);
    snprintf(q, sizeof q, "%s/l.json", dir);
    ck_assert_int_eq(symlink(p, q), 0);
    errno = 0;
    ck_assert_ptr_null(state_read_json(dir, "l.json"));
    ck_assert_int_eq(errno, ELOOP);
    snprintf(q, sizeof q, "%s/h.json", dir);
    ck_assert_int_eq(link(p, q), 0);
    ck_assert_ptr_null(state_read_json(dir, "h.json"));
    ck_assert_ptr_null(state_read_json(dir, "a.json"));    /* a.json has two links now too */
    unlink(q);
    snprintf(q, sizeof q, "%s/f.json", dir);
    ck_assert_int_eq(mkfifo(q, 0600), 0);
    ck_assert_ptr_null(state_read_json(dir, "f.json"));
    /* a write replaces a planted link instead of writing through it */
    snprintf(q, sizeof q, "%s/l.json", dir);
    o = json_object_new_object();
    ck_assert_int_eq(state_write_json(dir, "l.json", o), 0);
    json_object_put(o);
    struct stat st;
    ck_assert_int_eq(lstat(q, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq((int)(st.st_mode & 0777), 0600);
    /* stale temporaries go, whatever their name */
    snprintf(q, sizeof q, "%s/.a.json.%d.tmp", dir, (int)getpid());
    int fd = open(q, O_CREAT | O_WRONLY, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(p, sizeof p, "%s/.a.json.Xy12Zq.tmp", dir);
    ck_assert_int_eq(symlink("/etc/passwd", p), 0);
    state_remove_stale_temps(dir);
    ck_assert_int_eq(access(q, F_OK), -1);
    ck_assert_int_eq(lstat(p, &st), -1);
    /* the state dir itself: group-writable is refused */
    ck_assert_int_eq(state_dir_ready(dir), 0);
    chmod(dir, 0770);
    ck_assert_int_eq(state_dir_ready(dir), -1);
    chmod(dir, 0700);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

UNIT_MAIN("priv",
          acl_entries,
          modes_and_owners,
          state_files)
