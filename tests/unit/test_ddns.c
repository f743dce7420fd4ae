/* SPDX-License-Identifier: ISC */
/* test_ddns.c — unit tests of the pure parts of poller/ddns/ddns.c: dyndns2
 * answers, check-IP parsing, PowerDNS errors, DNS answers, address
 * classification, templates, and the dyndns2 update rules with injected
 * times. */
#include "ddns/ddns.h"
#include "ddns/internal.h"
#include "conf/config.h"
#include "core/netaddr.h"
#include "core/log.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include "unit.h"
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* ---- dyndns2 answers ---------------------------------------------------- */

static const struct {
    const char *line;
    enum ddns_code code;
    enum ddns_class cls;
    int exit;
} codes[] = {
    { "good 192.0.2.7", DDNS_GOOD, DDNS_CLASS_OK, 0 },
    { "nochg 192.0.2.7", DDNS_NOCHG, DDNS_CLASS_OK, 0 },
    { "badauth", DDNS_BADAUTH, DDNS_CLASS_FATAL, EX_NOPERM },
    { "notfqdn", DDNS_NOTFQDN, DDNS_CLASS_FATAL, EX_CONFIG },
    { "nohost", DDNS_NOHOST, DDNS_CLASS_FATAL, EX_CONFIG },
    { "numhost", DDNS_NUMHOST, DDNS_CLASS_FATAL, EX_CONFIG },
    { "abuse", DDNS_ABUSE, DDNS_CLASS_FATAL, EX_UNAVAILABLE },
    { "badagent", DDNS_BADAGENT, DDNS_CLASS_FATAL, EX_UNAVAILABLE },
    { "!donator", DDNS_NOTDONATOR, DDNS_CLASS_FATAL, EX_UNAVAILABLE },
    { "dnserr", DDNS_DNSERR, DDNS_CLASS_RETRY, EX_TEMPFAIL },
    { "911", DDNS_911, DDNS_CLASS_RETRY, EX_TEMPFAIL },
    { "whatever", DDNS_UNKNOWN, DDNS_CLASS_RETRY, EX_PROTOCOL },
};

START_TEST(t_d2_every_code)
{
    struct ddns_line l[4];
    const char *line = codes[_i].line;
    ck_assert_int_eq(ddns_parse_dyndns2(line, strlen(line), l, 4), 1);
    ck_assert_int_eq(l[0].code, codes[_i].code);
    ck_assert_int_eq(ddns_code_class(l[0].code), codes[_i].cls);
    ck_assert_int_eq(ddns_code_exit(l[0].code), codes[_i].exit);
    if (codes[_i].code == DDNS_GOOD || codes[_i].code == DDNS_NOCHG)
        ck_assert_str_eq(l[0].addr, "192.0.2.7");
    else
        ck_assert_str_eq(l[0].addr, "");
    if (codes[_i].code != DDNS_UNKNOWN)
        ck_assert_str_eq(ddns_code_name(l[0].code), strtok(strdupa(line), " "));
    /* with CRLF and trailing blanks too */
    char buf[64];
    snprintf(buf, sizeof buf, "  %s \r\n", line);
    ck_assert_int_eq(ddns_parse_dyndns2(buf, strlen(buf), l, 4), 1);
    ck_assert_int_eq(l[0].code, codes[_i].code);
}
END_TEST

START_TEST(t_d2_multi_host)
{
    const char *b = "good 198.51.100.8\nnohost\r\n\nnotfqdn\ngood 198.51.100.8,2001:db8::7\n";
    struct ddns_line l[20];
    ck_assert_int_eq(ddns_parse_dyndns2(b, strlen(b), l, 20), 4);
    ck_assert_int_eq(l[0].code, DDNS_GOOD);
    ck_assert_int_eq(l[1].code, DDNS_NOHOST);
    ck_assert_int_eq(l[2].code, DDNS_NOTFQDN);
    ck_assert_int_eq(l[3].code, DDNS_GOOD);
    ck_assert_str_eq(l[3].addr, "198.51.100.8,2001:db8::7");
    /* more lines than room: refused, never overflows */
    ck_assert_int_eq(ddns_parse_dyndns2(b, strlen(b), l, 3), -1);
    ck_assert_int_eq(ddns_parse_dyndns2(b, strlen(b), l, 0), -1);
    /* no final newline */
    ck_assert_int_eq(ddns_parse_dyndns2("nochg 1.2.3.4\nabuse", 19, l, 20), 2);
    ck_assert_int_eq(l[1].code, DDNS_ABUSE);
}
END_TEST

START_TEST(t_d2_garbage)
{
    struct ddns_line l[20];
    ck_assert_int_eq(ddns_parse_dyndns2("", 0, l, 20), -1);
    ck_assert_int_eq(ddns_parse_dyndns2(NULL, 0, l, 20), -1);
    ck_assert_int_eq(ddns_parse_dyndns2(" \r\n\n\t\n", 6, l, 20), -1);
    /* prefixes and case are not codes */
    const char *bad[] = { "goodness", "GOOD 1.2.3.4", "nochg:1.2.3.4", "9111", "!donatorx", "<html>" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(ddns_parse_dyndns2(bad[i], strlen(bad[i]), l, 20), 1);
        ck_assert_int_eq(l[0].code, DDNS_UNKNOWN);
    }
    /* NUL and control bytes make the line unknown, and stop nothing else */
    const char nul[] = "good\0 1.2.3.4\nbadauth\n";
    ck_assert_int_eq(ddns_parse_dyndns2(nul, sizeof nul - 1, l, 20), 2);
    ck_assert_int_eq(l[0].code, DDNS_UNKNOWN);
    ck_assert_int_eq(l[1].code, DDNS_BADAUTH);
    for (const char *p = l[0].text; *p; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f, "raw byte in log text");
    const char ctl[] = "good 1.2.3.4\x1b[2J";
    ck_assert_int_eq(ddns_parse_dyndns2(ctl, sizeof ctl - 1, l, 20), 1);
    ck_assert_int_eq(l[0].code, DDNS_UNKNOWN);
    /* a non-address after good: code kept, address dropped */
    ck_assert_int_eq(ddns_parse_dyndns2("good <script>", 13, l, 20), 1);
    ck_assert_int_eq(l[0].code, DDNS_GOOD);
    ck_assert_str_eq(l[0].addr, "");
    /* an HTML error page: too many lines, or unknown lines */
    const char *html = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n</body>\n</html>\n";
    ck_assert_int_eq(ddns_parse_dyndns2(html, strlen(html), l, 1), -1);
    ck_assert_int_eq(ddns_parse_dyndns2(html, strlen(html), l, 20), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(l[i].code, DDNS_UNKNOWN);
}
END_TEST

START_TEST(t_d2_overlong)
{
    size_t n = 1 << 20;
    char *b = malloc(n);
    memset(b, 'x', n);
    memcpy(b, "good ", 5);
    struct ddns_line l[2];
    ck_assert_int_eq(ddns_parse_dyndns2(b, n, l, 2), 1);
    ck_assert_int_eq(l[0].code, DDNS_GOOD);
    ck_assert_str_eq(l[0].addr, "");                 /* not an address list */
    ck_assert_uint_lt(strlen(l[0].text), sizeof l[0].text);
    /* an overlong address list is dropped, not truncated */
    memset(b, '1', n);
    memcpy(b, "nochg ", 6);
    ck_assert_int_eq(ddns_parse_dyndns2(b, 400, l, 2), 1);
    ck_assert_int_eq(l[0].code, DDNS_NOCHG);
    ck_assert_str_eq(l[0].addr, "");
    /* one million newlines: bounded by max */
    memset(b, '\n', n);
    b[0] = 'g'; b[1] = 'o'; b[2] = 'o'; b[3] = 'd';
    b[n - 2] = '9'; b[n - 1] = '1';
    ck_assert_int_eq(ddns_parse_dyndns2(b, n, l, 2), 2);
    ck_assert_int_eq(l[1].code, DDNS_UNKNOWN);      /* "91" */
    free(b);
}
END_TEST

/* ---- check-IP ------------------------------------------------------------ */

static char *ci(const char *body, int fam)
{
    static char out[64];
    if (ddns_parse_checkip(body, strlen(body), fam, out, sizeof out) < 0)
        return "-";
    return out;
}

START_TEST(t_checkip)
{
    ck_assert_str_eq(ci("<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.45</body></html>\r\n", AF_INET), "203.0.113.45");
    ck_assert_str_eq(ci("203.0.113.45\n", AF_INET), "203.0.113.45");
    ck_assert_str_eq(ci("198.51.100.7", AF_UNSPEC), "198.51.100.7");
    ck_assert_str_eq(ci("  2001:DB8:0:0::7 \n", AF_INET6), "2001:db8::7");
    ck_assert_str_eq(ci("<body>Current IP Address: 2001:db8::1</body>", AF_INET6), "2001:db8::1");
    ck_assert_str_eq(ci("Current IP Address:2001:db8::1", AF_INET6), "2001:db8::1");
    ck_assert_str_eq(ci("IP:192.0.2.1", AF_INET), "192.0.2.1");
    ck_assert_str_eq(ci("Your IP is 192.0.2.1.", AF_INET), "192.0.2.1");
    /* first address of the requested family */
    ck_assert_str_eq(ci("v6 2001:db8::5 v4 192.0.2.9", AF_INET), "192.0.2.9");
    ck_assert_str_eq(ci("v4 192.0.2.9 v6 2001:db8::5", AF_INET6), "2001:db8::5");
    /* exactly one address: two different ones are refused (which is ours?) */
    ck_assert_str_eq(ci("v4 192.0.2.9 v6 2001:db8::5", AF_UNSPEC), "-");
    ck_assert_str_eq(ci("a 1.2.3.4 b 5.6.7.8", AF_INET), "-");
    ck_assert_int_eq(ddns_parse_checkip("1.2.3.4 5.6.7.8", 15, AF_INET, (char[64]){0}, 64), -2);
    ck_assert_str_eq(ci("1.2.3.4 and again 1.2.3.4", AF_INET), "1.2.3.4");
    /* the reviewer's answers: none of them is an address to publish */
    ck_assert_str_eq(ci("not-an-ip;x", AF_INET), "-");
    ck_assert_str_eq(ci("not-an-ip;x", AF_UNSPEC), "-");
    /* junk */
    ck_assert_str_eq(ci("", AF_INET), "-");
    ck_assert_str_eq(ci("no address here", AF_UNSPEC), "-");
    ck_assert_str_eq(ci("HTTP/1.1 200", AF_INET), "-");
    ck_assert_str_eq(ci("1.2.3.4.5", AF_INET), "-");
    ck_assert_str_eq(ci("01.2.3.4", AF_INET), "-");
    ck_assert_str_eq(ci("1.2.3.256", AF_INET), "-");
    ck_assert_str_eq(ci("ip1.2.3.4", AF_INET), "-");
    ck_assert_str_eq(ci("1.2.3.4x", AF_INET), "-");
    ck_assert_str_eq(ci("1.2.3.4:80", AF_INET), "-");
    ck_assert_str_eq(ci("deadbeef", AF_INET6), "-");
    ck_assert_str_eq(ci("a :: b", AF_INET6), "-");            /* unspecified */
    ck_assert_str_eq(ci("::ffff:192.0.2.1", AF_INET6), "-");   /* v4-mapped */
    ck_assert_str_eq(ci("192.0.2.1", AF_INET6), "-");
    ck_assert_str_eq(ci("2001:db8::1", AF_INET), "-");
    ck_assert_str_eq(ci("2001:db8:::1", AF_INET6), "-");
    /* NUL in the body is just a separator; bounded by len */
    const char nul[] = "x\0" "192.0.2.3\0";
    char out[64];
    ck_assert_int_eq(ddns_parse_checkip(nul, sizeof nul - 1, AF_INET, out, sizeof out), 0);
    ck_assert_str_eq(out, "192.0.2.3");
    /* len is the limit, not the NUL: "192.0.2." / "192.0.2" are no addresses */
    ck_assert_int_eq(ddns_parse_checkip("192.0.2.3", 8, AF_INET, out, sizeof out), -1);
    ck_assert_int_eq(ddns_parse_checkip("192.0.2.3", 7, AF_INET, out, sizeof out), -1);
    ck_assert_int_eq(ddns_parse_checkip("192.0.2.3", 9, AF_INET, out, sizeof out), 0);
    ck_assert_str_eq(out, "192.0.2.3");
    /* output buffer too small */
    ck_assert_int_eq(ddns_parse_checkip("192.0.2.3", 9, AF_INET, out, 5), -1);
    ck_assert_int_eq(ddns_parse_checkip(NULL, 0, AF_INET, out, sizeof out), -1);
}
END_TEST

START_TEST(t_checkip_long)
{
    size_t n = 200000;
    char *b = malloc(n + 1);
    memset(b, '1', n);
    b[n] = '\0';
    char out[64];
    ck_assert_int_eq(ddns_parse_checkip(b, n, AF_UNSPEC, out, sizeof out), -1);
    memset(b, ':', n);
    ck_assert_int_eq(ddns_parse_checkip(b, n, AF_UNSPEC, out, sizeof out), -1);
    memcpy(b + n - 12, " 192.0.2.77 ", 12);
    ck_assert_int_eq(ddns_parse_checkip(b, n, AF_INET, out, sizeof out), 0);
    ck_assert_str_eq(out, "192.0.2.77");
    free(b);
}
END_TEST

/* ---- PowerDNS errors ------------------------------------------------------ */

START_TEST(t_pdns_error)
{
    char out[128];
    const char *j = "{\"error\": \"RRset gw.example.test. IN A: Name is out of zone\"}";
    ck_assert_int_eq(ddns_parse_pdns_error(j, strlen(j), out, sizeof out), 0);
    ck_assert_str_eq(out, "RRset gw.example.test. IN A: Name is out of zone");
    const char *e2 = "{\"error\":\"bad\\u0007\\nthing\",\"errors\":[\"x\"]}";
    ck_assert_int_eq(ddns_parse_pdns_error(e2, strlen(e2), out, sizeof out), 0);
    ck_assert_str_eq(out, "bad\\x07\\x0athing");
    ck_assert_int_eq(ddns_parse_pdns_error("Unauthorized", 12, out, sizeof out), -1);
    ck_assert_str_eq(out, "Unauthorized");
    ck_assert_int_eq(ddns_parse_pdns_error("{\"error\": 42}", 13, out, sizeof out), -1);
    ck_assert_int_eq(ddns_parse_pdns_error("[1,2]", 5, out, sizeof out), -1);
    ck_assert_int_eq(ddns_parse_pdns_error("{\"error\":\"x\"", 12, out, sizeof out), -1);
    ck_assert_int_eq(ddns_parse_pdns_error("", 0, out, sizeof out), -1);
    ck_assert_str_eq(out, "");
    const char nul[] = "{\"error\":\"a\0b\"}";
    ddns_parse_pdns_error(nul, sizeof nul - 1, out, sizeof out);   /* must not crash */
    char tiny[4];
    ck_assert_int_eq(ddns_parse_pdns_error(j, strlen(j), tiny, sizeof tiny), 0);
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

/* ---- DNS answers ----------------------------------------------------------- */

/* test data: a response for gw.example.test A with the given records */
static size_t mkans(unsigned char *m, int rcode, int qr, int type, const unsigned char *rd,
                    int rdlen, int n)
{
    static const unsigned char q[] = "\x02gw\x07" "example\x04test";
    size_t o = 0;
    unsigned char hdr[12] = { 0x12, 0x34, (unsigned char)(qr ? 0x84 : 0x04), (unsigned char)rcode,
                              0, 1, 0, (unsigned char)n, 0, 0, 0, 0 };
    memcpy(m, hdr, 12);
    o = 12;
    memcpy(m + o, q, sizeof q);
    o += sizeof q;                           /* includes the root label (NUL) */
    m[o++] = 0; m[o++] = (unsigned char)type;   /* qtype */
    m[o++] = 0; m[o++] = 1;                  /* IN */
    for (int i = 0; i < n; i++) {
        m[o++] = 0xc0; m[o++] = 12;          /* pointer to qname */
        m[o++] = 0; m[o++] = (unsigned char)type;
        m[o++] = 0; m[o++] = 1;
        m[o++] = 0; m[o++] = 0; m[o++] = 0; m[o++] = 60;
        m[o++] = 0; m[o++] = (unsigned char)rdlen;
        memcpy(m + o, rd, (size_t)rdlen);
        o += (size_t)rdlen;
    }
    return o;
}

START_TEST(t_dns_answer)
{
    unsigned char m[512];
    char out[4][DDNS_ADDR_MAX];
    unsigned char a[4] = { 198, 51, 100, 7 };
    size_t n = mkans(m, 0, 1, ns_t_a, a, 4, 2);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_a, out, 4), 2);
    ck_assert_str_eq(out[0], "198.51.100.7");
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "GW.Example.TEST.", ns_t_a, out, 4), 2);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_a, out, 1), 1);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "other.example.test", ns_t_a, out, 4), 0);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_aaaa, out, 4), 0);
    /* every truncation is malformed or fewer records, never a crash */
    for (size_t k = 0; k < n; k++)
        ck_assert_int_le(ddns_parse_dns_answer(m, k, "gw.example.test", ns_t_a, out, 4), 1);
    /* not a response */
    n = mkans(m, 0, 0, ns_t_a, a, 4, 1);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_a, out, 4), -1);
    /* NXDOMAIN */
    n = mkans(m, 3, 1, ns_t_a, a, 4, 0);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_a, out, 4), 0);
    /* AAAA */
    unsigned char a6[16];
    inet_pton(AF_INET6, "2001:db8::7", a6);
    n = mkans(m, 0, 1, ns_t_aaaa, a6, 16, 1);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_aaaa, out, 4), 1);
    ck_assert_str_eq(out[0], "2001:db8::7");
    /* wrong rdlength for the type is ignored */
    n = mkans(m, 0, 1, ns_t_a, a6, 16, 1);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_a, out, 4), 0);
    /* a compression loop */
    n = mkans(m, 0, 1, ns_t_a, a, 4, 1);
    m[12 + 17 + 4] = 0xc0;
    m[12 + 17 + 5] = (unsigned char)(12 + 17 + 4);
    ck_assert_int_eq(ddns_parse_dns_answer(m, n, "gw.example.test", ns_t_a, out, 4), -1);
    ck_assert_int_eq(ddns_parse_dns_answer(m, 5, "gw.example.test", ns_t_a, out, 4), -1);
}
END_TEST

/* ---- address classification ------------------------------------------------ */

START_TEST(t_classify)
{
    struct { const char *a; enum netaddr_kind k; } t[] = {
        { "8.8.8.8", NETADDR_PUBLIC }, { "81.2.69.142", NETADDR_PUBLIC },
        { "10.0.0.1", NETADDR_PRIVATE }, { "10.255.255.255", NETADDR_PRIVATE },
        { "172.16.0.1", NETADDR_PRIVATE }, { "172.31.255.1", NETADDR_PRIVATE },
        { "172.32.0.1", NETADDR_PUBLIC }, { "172.15.255.255", NETADDR_PUBLIC },
        { "192.168.1.1", NETADDR_PRIVATE }, { "192.169.0.1", NETADDR_PUBLIC },
        { "100.64.0.1", NETADDR_CGNAT }, { "100.127.255.254", NETADDR_CGNAT },
        { "100.128.0.1", NETADDR_PUBLIC }, { "100.63.255.255", NETADDR_PUBLIC },
        { "127.0.0.1", NETADDR_LOOPBACK }, { "127.0.0.20", NETADDR_LOOPBACK },
        { "169.254.1.1", NETADDR_LINKLOCAL },
        { "192.0.2.1", NETADDR_DOCUMENTATION }, { "198.51.100.7", NETADDR_DOCUMENTATION },
        { "203.0.113.45", NETADDR_DOCUMENTATION }, { "0.0.0.0", NETADDR_UNSPECIFIED },
        { "224.0.0.1", NETADDR_MULTICAST }, { "255.255.255.255", NETADDR_RESERVED },
        { "198.18.0.1", NETADDR_DOCUMENTATION },
        { "2a01:4f8::1", NETADDR_PUBLIC }, { "2001:4860:4860::8888", NETADDR_PUBLIC },
        { "::1", NETADDR_LOOPBACK }, { "::", NETADDR_UNSPECIFIED },
        { "fe80::1", NETADDR_LINKLOCAL }, { "febf::1", NETADDR_LINKLOCAL },
        { "fd00::1", NETADDR_PRIVATE }, { "fc00::1", NETADDR_PRIVATE },
        { "fec0::1", NETADDR_PRIVATE }, { "2001:db8::1", NETADDR_DOCUMENTATION },
        { "ff02::1", NETADDR_MULTICAST }, { "::ffff:10.1.2.3", NETADDR_PRIVATE },
        { "::ffff:8.8.8.8", NETADDR_PUBLIC }, { "100::1", NETADDR_RESERVED },
        { "", NETADDR_INVALID }, { "1.2.3", NETADDR_INVALID }, { "x", NETADDR_INVALID },
        { "1.2.3.4 ", NETADDR_INVALID },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(netaddr_classify_str(t[i].a) == t[i].k, "%s: got %d, want %d", t[i].a,
                      netaddr_classify_str(t[i].a), t[i].k);
    ck_assert_int_eq(netaddr_classify_str(NULL), NETADDR_INVALID);
    ck_assert_ptr_nonnull(strstr(netaddr_kind_name(NETADDR_CGNAT), "100.64.0.0/10"));
}
END_TEST

/* ---- templates ------------------------------------------------------------ */

START_TEST(t_template)
{
    struct ddns_vars v = { .hostname = "gw.example.test", .ip = "2001:db8::7", .ip4 = "192.0.2.7",
                           .ip6 = "2001:db8::7", .type = "AAAA", .secret = "p&ss=w\"rd/\\ x",
                           .zone = "example.test" };
    char out[512];
    int n = ddns_expand("https://api.test/u?h={hostname}&ip={ip}&k={secret}&t={type}", &v,
                        DDNS_ESC_URL, out, sizeof out);
    ck_assert_str_eq(out, "https://api.test/u?h=gw.example.test&ip=2001%3Adb8%3A%3A7"
                          "&k=p%26ss%3Dw%22rd%2F%5C%20x&t=AAAA");
    ck_assert_int_eq(n, (int)strlen(out));
    /* JSON body: braces that are not placeholders stay */
    ddns_expand("{\"type\":\"{type}\",\"name\":\"{hostname}\",\"content\":\"{ip}\",\"k\":\"{secret}\",\"z\":{zonex}}",
                &v, DDNS_ESC_JSON, out, sizeof out);
    ck_assert_str_eq(out, "{\"type\":\"AAAA\",\"name\":\"gw.example.test\",\"content\":\"2001:db8::7\","
                          "\"k\":\"p&ss=w\\\"rd/\\\\ x\",\"z\":{zonex}}");
    ddns_expand("Authorization: Bearer {secret}", &v, DDNS_ESC_HEADER, out, sizeof out);
    ck_assert_str_eq(out, "Authorization: Bearer p&ss=w\"rd/\\ x");
    ddns_expand("{ip4} {ip6} {zone} {nope} {} {IP} {", &v, DDNS_ESC_NONE, out, sizeof out);
    ck_assert_str_eq(out, "192.0.2.7 2001:db8::7 example.test {nope} {} {IP} {");
    /* a value that cannot go into a header */
    struct ddns_vars bad = v;
    bad.secret = "abc\r\nX-Injected: 1";
    ck_assert_int_eq(ddns_expand("X-Key: {secret}", &bad, DDNS_ESC_HEADER, out, sizeof out), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(ddns_expand("X-Key: a\nb", &v, DDNS_ESC_HEADER, out, sizeof out), -1);
    /* JSON escapes control characters */
    bad.secret = "a\x01" "b\n";
    ddns_expand("\"{secret}\"", &bad, DDNS_ESC_JSON, out, sizeof out);
    ck_assert_str_eq(out, "\"a\\u0001b\\u000a\"");
    /* NULL values are empty */
    struct ddns_vars empty = { 0 };
    ddns_expand("[{ip6}]", &empty, DDNS_ESC_URL, out, sizeof out);
    ck_assert_str_eq(out, "[]");
    /* overflow: -1 and nothing half-written */
    ck_assert_int_eq(ddns_expand("{hostname}{hostname}", &v, DDNS_ESC_NONE, out, 20), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(ddns_expand("abc", &v, DDNS_ESC_NONE, out, 4), 3);
    ck_assert_int_eq(ddns_expand("abcd", &v, DDNS_ESC_NONE, out, 4), -1);
    /* template check */
    char badname[40];
    ck_assert_int_eq(ddns_template_check("https://x/?a={hostname}&b={ip}{ip4}{ip6}{type}{secret}{zone}",
                                         badname, sizeof badname), 0);
    ck_assert_int_eq(ddns_template_check("{\"a\": {\"b\": 1}}", badname, sizeof badname), 0);
    ck_assert_int_eq(ddns_template_check("?h={hostnme}", badname, sizeof badname), -1);
    ck_assert_str_eq(badname, "{hostnme}");
    ck_assert_int_eq(ddns_template_check(NULL, badname, sizeof badname), 0);
}
END_TEST

/* ---- rules ---------------------------------------------------------------- */

#define T0 1700000000LL
#define DAY 86400LL

static struct ddns_entry_state fresh(void)
{
    struct ddns_entry_state st;
    memset(&st, 0, sizeof st);
    return st;
}

START_TEST(t_rules_first_and_unchanged)
{
    struct ddns_entry_state st = fresh();
    ck_assert_int_eq(ddns_decide(NULL, "h1", "192.0.2.7", "", 25, T0), DDNS_ACT_UPDATE);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0), DDNS_ACT_UPDATE);
    ddns_record(&st, "h1", DDNS_CLASS_OK, 0, "good 192.0.2.7", "192.0.2.7", "", T0);
    ck_assert_str_eq(st.cfg_hash, "h1");
    ck_assert_int_eq(st.updated, T0);
    /* same address: nothing sent (never a repeated nochg) */
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 60), DDNS_ACT_UNCHANGED);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 25 * DAY - 1), DDNS_ACT_UNCHANGED);
    /* nochg also confirms the address: afterwards nothing is sent again */
    ddns_record(&st, "h1", DDNS_CLASS_OK, 0, "nochg 192.0.2.7", "192.0.2.7", "", T0 + 10);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 20), DDNS_ACT_UNCHANGED);
    /* changed address: update */
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.8", "", 25, T0 + 60), DDNS_ACT_UPDATE);
    /* a family appearing or disappearing is a change */
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "2001:db8::7", 25, T0 + 60), DDNS_ACT_UPDATE);
    ck_assert_int_eq(ddns_decide(&st, "h1", "", "", 25, T0 + 60), DDNS_ACT_UPDATE);
    ck_assert_int_eq(ddns_decide(&st, "h1", NULL, NULL, 25, T0 + 60), DDNS_ACT_UPDATE);
}
END_TEST

START_TEST(t_rules_refresh_25_days)
{
    struct ddns_entry_state st = fresh();
    ddns_record(&st, "h1", DDNS_CLASS_OK, 0, "good 192.0.2.7", "192.0.2.7", "", T0);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 25 * DAY - 1), DDNS_ACT_UNCHANGED);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 25 * DAY), DDNS_ACT_REFRESH);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 400 * DAY), DDNS_ACT_REFRESH);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 1, T0 + DAY), DDNS_ACT_REFRESH);
    /* after the refresh (nochg), the clock starts again */
    ddns_record(&st, "h1", DDNS_CLASS_OK, 0, "nochg 192.0.2.7", "192.0.2.7", "", T0 + 25 * DAY);
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 26 * DAY), DDNS_ACT_UNCHANGED);
    /* clock set back: no refresh storm, no refresh at all until it catches up */
    ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 - 100 * DAY), DDNS_ACT_UNCHANGED);
}
END_TEST

START_TEST(t_rules_retry_10_minutes)
{
    const char *temp[] = { "dnserr", "911", "HTTP 503", "network error" };
    for (size_t i = 0; i < sizeof temp / sizeof temp[0]; i++) {
        struct ddns_entry_state st = fresh();
        ddns_record(&st, "h1", DDNS_CLASS_OK, 0, "good 192.0.2.7", "192.0.2.7", "", T0);
        ddns_record(&st, "h1", DDNS_CLASS_RETRY, EX_TEMPFAIL, temp[i], "192.0.2.8", "", T0 + 100);
        ck_assert_int_eq(st.retry_after, T0 + 100 + DDNS_RETRY_MIN);
        ck_assert_str_eq(st.addr4, "192.0.2.7");            /* not confirmed */
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.8", "", 25, T0 + 101), DDNS_ACT_WAIT);
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.8", "", 25, T0 + 100 + 599), DDNS_ACT_WAIT);
        /* even a new address waits: the provider said "not now" */
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.9", "", 25, T0 + 100 + 599), DDNS_ACT_WAIT);
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.8", "", 25, T0 + 100 + 600), DDNS_ACT_UPDATE);
        /* clock set back: a retry_after far ahead does not block for long */
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.8", "", 25, T0 - DAY), DDNS_ACT_UPDATE);
        /* a changed config may try at once */
        ck_assert_int_eq(ddns_decide(&st, "h2", "192.0.2.8", "", 25, T0 + 101), DDNS_ACT_UPDATE);
        /* success clears the wait */
        ddns_record(&st, "h1", DDNS_CLASS_OK, 0, "good 192.0.2.8", "192.0.2.8", "", T0 + 700);
        ck_assert_int_eq(st.retry_after, 0);
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.8", "", 25, T0 + 701), DDNS_ACT_UNCHANGED);
    }
}
END_TEST

START_TEST(t_rules_fatal)
{
    enum ddns_code fatal[] = { DDNS_BADAUTH, DDNS_NOTFQDN, DDNS_NOHOST, DDNS_NUMHOST, DDNS_ABUSE,
                               DDNS_BADAGENT, DDNS_NOTDONATOR };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        struct ddns_entry_state st = fresh();
        ck_assert_int_eq(ddns_code_class(fatal[i]), DDNS_CLASS_FATAL);
        ddns_record(&st, "h1", DDNS_CLASS_FATAL, ddns_code_exit(fatal[i]), ddns_code_name(fatal[i]),
                    "192.0.2.7", "", T0);
        ck_assert(st.fatal);
        /* never retried: not in 10 minutes, not in a year, not for a new address */
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 1), DDNS_ACT_FATAL);
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.7", "", 25, T0 + 365 * DAY), DDNS_ACT_FATAL);
        ck_assert_int_eq(ddns_decide(&st, "h1", "192.0.2.99", "", 25, T0 + 601), DDNS_ACT_FATAL);
        /* a changed config (or secret file) clears the mark */
        ck_assert_int_eq(ddns_decide(&st, "h2", "192.0.2.7", "", 25, T0 + 1), DDNS_ACT_UPDATE);
        ddns_record(&st, "h2", DDNS_CLASS_OK, 0, "good", "192.0.2.7", "", T0 + 2);
        ck_assert(!st.fatal);
        ck_assert_int_eq(ddns_decide(&st, "h2", "192.0.2.7", "", 25, T0 + 3), DDNS_ACT_UNCHANGED);
    }
    /* retry codes are never fatal */
    ck_assert_int_eq(ddns_code_class(DDNS_DNSERR), DDNS_CLASS_RETRY);
    ck_assert_int_eq(ddns_code_class(DDNS_911), DDNS_CLASS_RETRY);
    ck_assert_int_eq(ddns_code_class(DDNS_UNKNOWN), DDNS_CLASS_RETRY);
    ck_assert_str_eq(ddns_action_name(DDNS_ACT_WAIT), "wait");
}
END_TEST

/* ---- change digest: every key counts ----------------------------------- */

/* One changed value for every key of a ddns section.  The test reads the
 * key list from the section as libconfuse prints it, so a key added to the
 * schema without a line here fails the test (and, more to the point, the
 * digest already covers it, being computed from that same text). */
static const struct { const char *key, *line; } key_changes[] = {
    { "protocol", "protocol = \"custom\" url = \"https://x.test/{hostname}\"" },
    { "preset", "preset = \"dyn\"" },
    { "hostname", "hostname = \"gw2.example.test\"" },
    { "server", "server = \"http://127.0.0.1:2\"" },
    { "username", "username = \"u\"" },
    { "password-file", "password-file = \"/etc/passwd\"" },
    { "zone", "zone = \"example.test\"" },
    { "ttl", "ttl = 61" },
    { "ipv4", "ipv4 = false ipv6 = true" },
    { "ipv6", "ipv6 = true" },
    { "address-source", "address-source = \"url\" check-ip-url = \"https://ip.test/\"" },
    { "interface", "interface = \"ppp0\"" },
    { "check-ip-url", "check-ip-url = \"https://ip.test/\"" },
    { "check-ip-url6", "check-ip-url6 = \"https://ip6.test/\"" },
    { "check-ip-confirm-url", "check-ip-confirm-url = \"https://ip2.test/\"" },
    { "check-ip-confirm-url6", "check-ip-confirm-url6 = \"https://ip62.test/\"" },
    { "on-private-address", "on-private-address = \"warn\"" },
    { "trust-http-check-ip", "trust-http-check-ip = true" },
    { "method", "method = \"POST\"" },
    { "url", "url = \"https://x.test/\"" },
    { "headers", "headers = {\"X-A: b\"}" },
    { "body", "body = \"b\"" },
    { "success-status", "success-status = {200, 204}" },
    { "wait-server", "wait-server = \"127.0.0.1:53\"" },
    { "wait-timeout", "wait-timeout = 61" },
    { "delay-after-change", "delay-after-change = 1" },
    { "force-refresh-days", "force-refresh-days = 24" },
    { "timeout", "timeout = 31" },
    { "required", "required = true" },
    { "ca-file", "ca-file = \"/etc/hostname\"" },
};

static const char *ddns_base =
    "protocol = \"dyndns2\" hostname = \"gw.example.test\" server = \"http://127.0.0.1:1\" "
    "username = \"user\" password-file = \"/etc/hostname\"";

static int load_ddns(const char *extra, struct etp_config *c)
{
    char text[2048], err[4096];
    snprintf(text, sizeof text, "relay r { host = \"x.test\" domains = {\"a.test\"} }\n"
             "ddns d { %s %s }\n", ddns_base, extra);
    int r = config_load_string(text, "t.conf", c, err, sizeof err);
    if (r < 0 || c->nddns != 1)
        fprintf(stderr, "config: %s\n", err);
    return r < 0 || c->nddns != 1 ? -1 : 0;
}

START_TEST(t_digest_every_key)
{
    struct etp_config base;
    ck_assert_int_eq(load_ddns("", &base), 0);
    ck_assert_ptr_nonnull(base.ddns[0].section_text);
    char h0[17], h1[17];
    ddns_entry_digest(&base.ddns[0], h0);
    ddns_entry_digest(&base.ddns[0], h1);
    ck_assert_str_eq(h0, h1);                            /* stable */
    /* every key the schema prints must have a change in the table */
    int nkeys = 0;
    for (const char *p = base.ddns[0].section_text; *p; ) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *k = p;
        while (*k == '#' || *k == ' ')
            k++;
        size_t kl = strcspn(k, " =");
        if (kl > 0 && kl < 40 && (size_t)(k - p) + kl < n) {
            int found = 0;
            for (size_t i = 0; i < sizeof key_changes / sizeof key_changes[0]; i++)
                found |= strlen(key_changes[i].key) == kl && strncmp(key_changes[i].key, k, kl) == 0;
            ck_assert_msg(found, "ddns key \"%.*s\" has no change in key_changes[]", (int)kl, k);
            nkeys++;
        }
        p += n + (e ? 1 : 0);
    }
    ck_assert_int_eq(nkeys, (int)(sizeof key_changes / sizeof key_changes[0]));
    for (size_t i = 0; i < sizeof key_changes / sizeof key_changes[0]; i++) {
        struct etp_config c;
        ck_assert_msg(load_ddns(key_changes[i].line, &c) == 0, "%s", key_changes[i].line);
        char h[17];
        ddns_entry_digest(&c.ddns[0], h);
        ck_assert_msg(strcmp(h, h0) != 0, "changing %s did not change the digest", key_changes[i].key);
        config_free(&c);
    }
    /* the secret file's identity counts too (a rewritten key clears a final badauth) */
    char path[] = "/tmp/test_ddns_secretXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "k1\n", 3), 3);
    close(fd);
    struct etp_config c;
    char line[200];
    snprintf(line, sizeof line, "password-file = \"%s\"", path);
    ck_assert_int_eq(load_ddns(line, &c), 0);
    ddns_entry_digest(&c.ddns[0], h0);
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "key-2\n", 6), 6);
    close(fd);
    ddns_entry_digest(&c.ddns[0], h1);
    ck_assert_str_ne(h0, h1);
    unlink(path);
    config_free(&c);
    config_free(&base);
}
END_TEST

/* ---- one secret rule for check and poll -------------------------------- */

START_TEST(t_secret_invalid)
{
    ck_assert_ptr_null(secret_invalid("Tok\\en-\xc3\xa4-SECRET42"));
    ck_assert_ptr_nonnull(strstr(secret_invalid("key\rX-Injected: 1"), "carriage return"));
    ck_assert_ptr_nonnull(secret_invalid("key\nmore"));
    ck_assert_ptr_nonnull(secret_invalid("key\x7f"));
    ck_assert_ptr_nonnull(secret_invalid(""));
}
END_TEST

/* ---- the redirect rule ---------------------------------------------------- */

START_TEST(t_redirect_rule)
{
    char why[300];
    ck_assert(ddns_redirect_ok("http://h.test/a", "http://h.test/b", why, sizeof why));
    ck_assert(ddns_redirect_ok("https://h.test:8443/a", "https://H.test:8443/b", why, sizeof why));
    ck_assert(ddns_redirect_ok("http://h.test/a", "https://h.test/a", why, sizeof why));
    ck_assert(ddns_redirect_ok("http://h.test:8080/a", "https://h.test:443/a", why, sizeof why));
    /* credentials to another port: refused, also as an "https upgrade" */
    ck_assert(!ddns_redirect_ok("http://h.test/a", "https://h.test:8443/a", why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "8443"));
    ck_assert(!ddns_redirect_ok("http://h.test:8080/a", "http://h.test:8081/a", why, sizeof why));
    ck_assert(!ddns_redirect_ok("https://h.test/a", "http://h.test/a", why, sizeof why));
    ck_assert(!ddns_redirect_ok("https://h.test/a", "https://other.test/a", why, sizeof why));
    ck_assert(!ddns_redirect_ok("https://h.test/a", "ftp://h.test/a", why, sizeof why));
    ck_assert(!ddns_redirect_ok("https://h.test/a", "::::", why, sizeof why));
}
END_TEST

/* ---- the growing builder never cuts --------------------------------------- */

START_TEST(t_sbuf_cap)
{
    struct sbuf b = sb_heap(DDNS_URL_MAX);
    char name[254];
    memset(name, 'a', 253);
    name[253] = '\0';
    for (int i = 0; i < 20; i++)
        sb_add(&b, name);
    ck_assert(!b.overflow);
    ck_assert_uint_eq(b.len, 20 * 253);
    ck_assert_uint_eq(strlen(b.p), 20 * 253);
    for (int i = 0; i < 60; i++)
        sb_add(&b, name);
    ck_assert(b.overflow);                              /* refused, not cut silently */
    sb_free(&b);
    ck_assert_ptr_null(b.p);
}
END_TEST

/* ---- dry run: the plan says what would be sent, sends nothing --------------- */

static char *plan_of(const struct etp_config *c, const char *addr4, unsigned flags, int *rc)
{
    struct uplink up;
    memset(&up, 0, sizeof up);
    snprintf(up.addr4, sizeof up.addr4, "%s", addr4);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    *rc = ddns_plan(c, &up, flags, f);
    fclose(f);
    return buf;
}

START_TEST(t_plan)
{
    char dir[] = "/tmp/test_ddns_planXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char text[1024], err[4096];
    snprintf(text, sizeof text, "state-dir = \"%s\"\nrelay r { host = \"x.test\" domains = {\"a.test\"} }\n"
             "ddns gw { protocol = \"powerdns\" hostname = \"gw.example.test\" "
             "server = \"http://127.0.0.1:9\" zone = \"example.test\" password-file = \"/etc/hostname\" }\n", dir);
    struct etp_config c;
    ck_assert_msg(config_load_string(text, "t.conf", &c, err, sizeof err) == 0, "%s", err);
    int rc;
    char *out = plan_of(&c, "81.2.69.142", 0, &rc);
    ck_assert_msg(strstr(out, "ddns gw (powerdns): would update gw.example.test -> 81.2.69.142"), "%s", out);
    ck_assert_int_eq(rc, 0);
    free(out);
    /* nothing was written: no state file */
    char path[300];
    snprintf(path, sizeof path, "%s/ddns.json", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    /* a private address: withheld (skip is the default) */
    out = plan_of(&c, "10.9.9.9", 0, &rc);
    ck_assert_msg(strstr(out, "nothing would be sent: no address that can receive mail"), "%s", out);
    free(out);
    /* a bad address given by the caller is no address */
    out = plan_of(&c, "not-an-ip;x", 0, &rc);
    ck_assert_msg(strstr(out, "nothing would be sent"), "%s", out);
    ck_assert_int_ne(rc, 0);
    free(out);
    /* remembered and unchanged: nothing; with DDNS_FORCE: an update */
    struct ddns_entry_state st;
    memset(&st, 0, sizeof st);
    char h[17];
    ddns_entry_digest(&c.ddns[0], h);
    ddns_record(&st, h, DDNS_CLASS_OK, 0, "HTTP 204", "81.2.69.142", "", now_wall());
    json_object *root = json_object_new_object(), *ents = json_object_new_object();
    json_object_object_add(ents, "gw", state_to_json(&st, &c.ddns[0]));
    json_object_object_add(root, "entries", ents);
    ck_assert_int_eq(state_write_json(dir, "ddns.json", root), 0);
    json_object_put(root);
    out = plan_of(&c, "81.2.69.142", 0, &rc);
    ck_assert_msg(strstr(out, "unchanged, would send nothing"), "%s", out);
    free(out);
    out = plan_of(&c, "81.2.69.142", DDNS_FORCE, &rc);
    ck_assert_msg(strstr(out, "would update (--force) gw.example.test -> 81.2.69.142"), "%s", out);
    free(out);
    out = plan_of(&c, "81.2.69.143", 0, &rc);
    ck_assert_msg(strstr(out, "would update gw.example.test -> 81.2.69.143"), "%s", out);
    free(out);
    unlink(path);
    rmdir(dir);
    config_free(&c);
}
END_TEST

START_TEST(t_exit_worst_order)
{
    /* ddns_run_all combines entries with exit_worst: config beats auth beats temp */
    int w = 0;
    w = exit_worst(w, ddns_code_exit(DDNS_DNSERR));
    ck_assert_int_eq(w, EX_TEMPFAIL);
    w = exit_worst(w, ddns_code_exit(DDNS_BADAUTH));
    ck_assert_int_eq(w, EX_NOPERM);
    w = exit_worst(w, ddns_code_exit(DDNS_NOHOST));
    ck_assert_int_eq(w, EX_CONFIG);
    w = exit_worst(w, ddns_code_exit(DDNS_GOOD));
    ck_assert_int_eq(w, EX_CONFIG);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ddns");
    TCase *tc = tcase_create("dyndns2");
    tcase_add_loop_test(tc, t_d2_every_code, 0, (int)(sizeof codes / sizeof codes[0]));
    tcase_add_test(tc, t_d2_multi_host);
    tcase_add_test(tc, t_d2_garbage);
    tcase_add_test(tc, t_d2_overlong);
    suite_add_tcase(s, tc);
    tc = tcase_create("parsers");
    tcase_add_test(tc, t_checkip);
    tcase_add_test(tc, t_checkip_long);
    tcase_add_test(tc, t_pdns_error);
    tcase_add_test(tc, t_dns_answer);
    tcase_add_test(tc, t_classify);
    tcase_add_test(tc, t_template);
    suite_add_tcase(s, tc);
    tc = tcase_create("rules");
    tcase_add_test(tc, t_rules_first_and_unchanged);
    tcase_add_test(tc, t_rules_refresh_25_days);
    tcase_add_test(tc, t_rules_retry_10_minutes);
    tcase_add_test(tc, t_rules_fatal);
    tcase_add_test(tc, t_exit_worst_order);
    tcase_add_test(tc, t_digest_every_key);
    tcase_add_test(tc, t_secret_invalid);
    tcase_add_test(tc, t_redirect_rule);
    tcase_add_test(tc, t_sbuf_cap);
    tcase_add_test(tc, t_plan);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(suite(), UNIT_FORK);
}
