/* fuzz_opts.c — the command-line parser (poller/cli/opts.c, cli_parse):
 * option values come from hooks, which pass what pppd/NetworkManager/
 * ifupdown give them (`poll -a "$4" -i "$1"`).
 *
 * Input: argv[1..] separated by NUL bytes (at most 64 words; argv[0] is
 * "etrnpoll").  Invariants: the result is 0 or EX_USAGE; a refusal comes
 * with a one-line printable message; an accepted vector has a command (or
 * --help/--version), every value it kept passed its validator (canonical
 * addresses, interface and trigger names, 0..86400 s, valid ETRN nodes),
 * command-only flags only with their command; parsing twice gives the same
 * result (no hidden state). */
#include "fuzz.h"
#include "cli/cli.h"
#include <arpa/inet.h>
#include <sysexits.h>

#define MAXW 64

static void same(const struct cli *a, const struct cli *b)
{
    FZ_CHECK(a->cmd == b->cmd && a->connect == b->connect && a->json == b->json);
    FZ_CHECK(a->dry_run == b->dry_run && a->force == b->force && a->level == b->level);
    FZ_CHECK(a->nrelays == b->nrelays && a->nnodes == b->nnodes);
    FZ_CHECK(memcmp(&a->co.up, &b->co.up, sizeof a->co.up) == 0);
    FZ_CHECK(a->co.lock_wait == b->co.lock_wait && a->config_path == b->config_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *buf = fz_strdup(data, size);
    char *argv[MAXW + 2];
    int argc = 0;
    argv[argc++] = (char *)"etrnpoll";
    for (size_t i = 0; i <= size && argc <= MAXW;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;

    struct cli c, c2;
    char err[512], err2[512];
    int rc = cli_parse(argc, argv, &c, err, sizeof err);
    int rc2 = cli_parse(argc, argv, &c2, err2, sizeof err2);
    FZ_CHECK(rc == rc2);
    FZ_CHECK(rc == 0 || rc == EX_USAGE);
    if (rc) {
        FZ_CHECK(err[0] != '\0' && strcmp(err, err2) == 0);
        FZ_CHECK(fz_is_printable_text(err, strlen(err)) && !strchr(err, '\n'));
        free(buf);
        return 0;
    }
    same(&c, &c2);
    if (!c.help && !c.version)
        FZ_CHECK(c.cmd != CMD_NONE && c.cmd_name);
    if (c.help || c.version) {
        free(buf);
        return 0;
    }
    FZ_CHECK(c.config_path && c.config_path[0] && strlen(c.config_path) < CLI_PATH_MAX);
    char canon[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    if (c.co.up.addr4[0]) {
        FZ_CHECK(inet_pton(AF_INET, c.co.up.addr4, bin) == 1);
        FZ_CHECK(strcmp(inet_ntop(AF_INET, bin, canon, sizeof canon), c.co.up.addr4) == 0);
    }
    if (c.co.up.addr6[0]) {
        FZ_CHECK(inet_pton(AF_INET6, c.co.up.addr6, bin) == 1);
        FZ_CHECK(strcmp(inet_ntop(AF_INET6, bin, canon, sizeof canon), c.co.up.addr6) == 0);
    }
    if (c.co.up.ifname[0])
        FZ_CHECK(cli_valid_ifname(c.co.up.ifname, NULL, 0) == 0 && !strpbrk(c.co.up.ifname, " /\n"));
    FZ_CHECK(c.co.trigger && cli_valid_trigger(c.co.trigger, NULL, 0) == 0);
    FZ_CHECK(c.co.lock_wait >= 0 && c.co.lock_wait <= 86400);
    FZ_CHECK(c.nrelays >= 0 && c.nrelays <= CLI_MAX_RELAYS && c.nnodes >= 0 && c.nnodes <= CLI_MAX_NODES);
    for (int i = 0; i < c.nnodes; i++)
        FZ_CHECK(node_invalid(c.nodes[i]) == NULL);
    for (int i = 0; i < c.nrelays; i++)
        FZ_CHECK(c.relays[i][0] && !strpbrk(c.relays[i], " \t\r\n"));
    if (c.json)
        FZ_CHECK(c.cmd == CMD_STATUS);
    if (c.connect)
        FZ_CHECK(c.cmd == CMD_CHECK);
    if (c.force)
        FZ_CHECK(c.cmd == CMD_DDNS);
    if (c.dry_run)
        FZ_CHECK(c.cmd == CMD_POLL || c.cmd == CMD_DDNS);
    if (c.nrelays || c.nnodes)
        FZ_CHECK(c.cmd == CMD_POLL || (c.cmd == CMD_CHECK && c.connect));
    free(buf);
    return 0;
}
