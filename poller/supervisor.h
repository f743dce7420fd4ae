/* supervisor.h — `etrnpoll run`: the daemon. */
#ifndef ETP_SUPERVISOR_H
#define ETP_SUPERVISOR_H

struct run_opts {
    const char *config_path;
    int foreground;               /* always true for now (systemd) */
    int verbose;
};
/* Returns a process exit code. */
int supervisor_run(const struct run_opts *o);
#endif
