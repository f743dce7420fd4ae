/* SPDX-License-Identifier: ISC */
/* config.h — the configuration model (parsed with libconfuse).
 *
 * The file format and every key are documented in etrnpoll.conf(5)
 * (man/etrnpoll.conf.5).  All limits below are enforced by config_load(). */
#ifndef ETP_CONFIG_H
#define ETP_CONFIG_H
#include <stddef.h>

#define ETP_DEFAULT_CONFIG  SYSCONFDIR "/etrnpoll.conf"
#define ETP_DEFAULT_STATEDIR LOCALSTATEDIR "/lib/etrnpoll"

#define CFG_MAX_RELAYS   16
#define CFG_MAX_NODES    256
#define CFG_MAX_DDNS     16
#define CFG_MAX_MECHS    8
#define CFG_MAX_IFACES   16
#define CFG_MAX_ARGV     32
#define CFG_MAX_HEADERS  16
#define CFG_MAX_PINS     4
#define CFG_NODE_MAX     255     /* ETRN argument length */

enum tls_mode { TLS_STARTTLS = 0, TLS_IMPLICIT, TLS_NONE };

struct timeouts {                 /* seconds; RFC 5321 4.5.3.2 defaults */
    int connect;                  /* 30 */
    int greeting;                 /* 300 */
    int command;                  /* EHLO, STARTTLS, AUTH, NOOP: 300 */
    int etrn;                     /* 300 */
    int quit;                     /* 30 */
    int tls;                      /* handshake: 60 */
};

struct relay_cfg {
    char *name;                   /* section title */
    int line;                     /* config line, for messages */
    char *host;
    int port;                     /* 0 = 25 (starttls/none) or 465 (implicit) */
    enum tls_mode tls;
    char *ca_file;                /* NULL = system trust store */
    char *tls_name;               /* name to verify; NULL = host */
    char *pins[CFG_MAX_PINS];     /* "sha256//BASE64" of the SPKI; any may match */
    int npins;
    char *mechs[CFG_MAX_MECHS];   /* allowed mechanisms, in preference order */
    int nmechs;
    int mechs_default;            /* auth-mechanisms not set: fewest round trips inside TLS */
    int tls_allow_weak_keys;      /* tls-allow-weak-keys: verification profile LOW */
    char *username;               /* NULL = no AUTH */
    char *password_file;
    int allow_plaintext_auth;     /* only meaningful with tls = none */
    char *nodes[CFG_MAX_NODES];   /* ETRN arguments: domain, @domain, #queue, [literal] */
    int nnodes;
    int max_etrn_per_session;     /* 0 = unlimited; reconnect after this many */
    int address_cache;            /* seconds host's addresses are reused; 0 = off */
    int etrn_pipelining;          /* etrn-pipelining: ETRNs in groups (RFC 2920) where safe */
    struct timeouts to;
    char digest[33];              /* hash of the section as written (learned state resets on change) */
};

enum ddns_proto { DDNS_DYNDNS2 = 0, DDNS_POWERDNS, DDNS_CUSTOM };
enum addr_source { ADDR_INTERFACE = 0, ADDR_URL };
enum private_policy { PRIV_WARN = 0, PRIV_SKIP, PRIV_PUBLISH };

struct ddns_cfg {
    char *name;
    int line;
    enum ddns_proto proto;
    char *hostname;               /* FQDN to update; dyndns2 allows a list "a,b" */
    char *server;                 /* dyndns2: base URL (https://members.dyndns.org); powerdns: API base URL */
    char *username;               /* dyndns2 */
    char *password_file;          /* dyndns2 password / powerdns API key / custom secret ({secret}) */
    char *zone;                   /* powerdns zone */
    int ttl;                      /* powerdns TTL, default 60 */
    int ipv4, ipv6;               /* record types to maintain; default ipv4 only */
    enum addr_source source;
    char *interface;              /* for ADDR_INTERFACE; NULL = the uplink the link watcher found */
    char *checkip_url;            /* for ADDR_URL */
    char *checkip_url6;
    char *checkip_confirm_url;    /* a second check-IP source that confirms a plain-http answer */
    char *checkip_confirm_url6;
    enum private_policy on_private;
    /* custom */
    char *method;                 /* GET/POST/PUT/PATCH */
    char *url;                    /* template: {hostname} {ip} {ip4} {ip6} {type} {secret} {zone} */
    char *headers[CFG_MAX_HEADERS];
    int nheaders;
    char *body;                   /* template */
    int success_min, success_max; /* HTTP status range counted as success, default 200..299 */
    /* after an update */
    char *wait_server;            /* "addr[:port]" of an authoritative server to query; NULL = none */
    int wait_timeout;             /* seconds, default 60 */
    int delay_after_change;       /* seconds, default 0 */
    int force_refresh_days;       /* default 25 */
    int timeout;                  /* HTTP timeout, default 30 s */
    char *ca_file;                /* CA bundle for https:// URLs; NULL = system trust store */
    int required;                 /* a failed update stops the poll (no ETRN); default no */
    int trust_http_checkip;       /* publish an http:// check-IP answer nothing confirms; default no */
    char *section_text;           /* the section as cfg_print writes it (ddns change digest) */
};

struct link_cfg {
    char *interfaces[CFG_MAX_IFACES]; /* names or fnmatch globs ("ppp*"); none = default route's */
    int ninterfaces;
    int require_default_route;    /* default yes */
    int settle;                   /* seconds after becoming usable, default 2 */
    int interval;                 /* periodic poll while usable; 0 = off */
    int backoff_min, backoff_max; /* temporary failure retry, 30 .. 1800 s */
    int cycle_timeout;            /* kill a cycle after this, default 3600 */
};

struct hold_cfg {
    int enabled;                  /* default yes */
    int port;                     /* local MTA port, default 25 */
    char *local_address;          /* only connections to this local address; NULL = any */
    char *source;                 /* only peers in this address/prefix; NULL = any */
    int quiet;                    /* seconds without an open inbound connection, default 10 */
    int first_contact;            /* default 120 */
    int max_hold;                 /* default 1800 */
    int sample_ms;                /* default 200 */
    int keepalive;                /* NOOP the relay while waiting, default yes */
    int keepalive_interval;       /* default 120 s (below the 5 min idle limit) */
    char *flush_argv[CFG_MAX_ARGV]; /* local outbound flush, e.g. postqueue -f */
    int nflush;
    int wait_outbound;            /* also wait for outbound SMTP from the MTA to finish */
    int check_local_mta;          /* connect to the local MTA before ETRN */
};

struct hooks_cfg {
    char *dir;                    /* run-parts style dir: DIR/pre-poll.d etc.; NULL = none */
    char *pre_poll[CFG_MAX_ARGV]; int npre;
    char *post_poll[CFG_MAX_ARGV]; int npost;
    char *hold_done[CFG_MAX_ARGV]; int nhold;
    int timeout;                  /* seconds, default 30 */
};

struct etp_config {
    char *path;
    char *ehlo_name;              /* default: the host's FQDN */
    char *state_dir;
    char *user;                   /* service user (poll, run, check as root); NULL = etrnpoll if it exists */
    int syslog_facility;
    int poll_timeout;             /* seconds for all relays' ETRN dialogues, default 120 */
    struct relay_cfg relays[CFG_MAX_RELAYS];
    int nrelays;
    struct ddns_cfg ddns[CFG_MAX_DDNS];
    int nddns;
    struct link_cfg link;
    struct hold_cfg hold;
    struct hooks_cfg hooks;
};

/* Load and validate.  On error returns -1 and writes "file:line: what is
 * wrong" lines into err (several, newline separated, up to errsize). */
int config_load(const char *path, struct etp_config *cfg, char *err, size_t errsize);
/* Load from a string (tests, fuzzing, embedded demo config). */
int config_load_string(const char *text, const char *name, struct etp_config *cfg,
                       char *err, size_t errsize);
void config_free(struct etp_config *cfg);

/* Read a secret (password / API key) from a file.  Refuses what
 * priv_check_stat(PRIV_SECRET) refuses (core/priv.h): not a regular file, a
 * link, owned by someone other than root or the service user, writable by
 * group or others, readable by others or by a group other than the service
 * user's, an ACL granting read to anyone else.  Strips one trailing
 * newline.  Returns 0 and a malloc'd string (caller wipes+frees with
 * secret_free), or -1 with a message in err. */
int secret_read(const char *path, char **out, char *err, size_t errsize);
void secret_free(char *s);

/* ETRN node syntax check (RFC 1985 + "#queue" + address literal).
 * Returns NULL if valid, else a static explanation. */
const char *node_invalid(const char *node);

/* Effective port for a relay. */
int relay_port(const struct relay_cfg *r);
const char *tls_mode_name(enum tls_mode m);
#endif
