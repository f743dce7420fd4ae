/* version.c — `etrnpoll --version`: what was built, where it looks, with
 * which libraries (like msmtp --version). */
#include "cli/cli.h"
#include "core/util.h"
#include <confuse.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cmd_version(FILE *out, const struct cli *c)
{
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    char b[CLI_PATH_MAX + 8];
    fprintf(out, "etrnpoll %s\n", PACKAGE_VERSION);
    fprintf(out, "configuration file: %s%s\n", printable_str(b, sizeof b, c->config_path, "?"),
            strcmp(c->config_path, ETP_DEFAULT_CONFIG) == 0 ? " (default)" : "");
    /* the state directory this configuration uses, if it can be read */
    struct etp_config cfg;
    char err[2048];
    if (config_load(c->config_path, &cfg, err, sizeof err) == 0)
        fprintf(out, "state directory: %s (from the configuration)\n",
                printable_str(b, sizeof b, cfg.state_dir, "?"));
    else
        fprintf(out, "state directory: %s by default (the configuration could not be read or has "
                "errors: etrnpoll check)\n", ETP_DEFAULT_STATEDIR);
    config_free(&cfg);
    fprintf(out, "GnuTLS %s, libcurl %s (%s), GNU SASL %s, libconfuse %s, json-c %s\n",
            gnutls_check_version(NULL), cv->version, cv->ssl_version ? cv->ssl_version : "no TLS",
            gsasl_check_version(NULL), confuse_version, json_c_version());

    /* what this GNU SASL can do, and what etrnpoll will use of it */
    Gsasl *ctx = NULL;
    char *mechs = NULL;
    if (gsasl_init(&ctx) == GSASL_OK && gsasl_client_mechlist(ctx, &mechs) == GSASL_OK && mechs) {
        static const char *const used[] = { "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN" };
        fprintf(out, "SASL mechanisms usable in auth-mechanisms:");
        int any = 0;
        for (size_t i = 0; i < ETP_ARRAY_LEN(used); i++)
            if (gsasl_client_support_p(ctx, used[i])) {
                fprintf(out, " %s", used[i]);
                any = 1;
            }
        fprintf(out, "%s\n", any ? "" : " none");
        fprintf(out, "GNU SASL client mechanisms: %s\n", mechs);
    } else {
        fprintf(out, "SASL mechanisms: unknown (GNU SASL did not initialise)\n");
    }
    gsasl_free(mechs);
    if (ctx)
        gsasl_done(ctx);
}
