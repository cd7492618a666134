/*
 * sx_config: the settings table, defaults, text and number parsing with
 * bounds (checked before any cast), strings with control characters or
 * NUL refused, copies that own their strings.
 */
#include <string.h>

#include "sx_config.h"
#include "sx_log.h"
#include "testhelp.h"

static int set(struct sx_config *k, const char *name, const char *v,
               char *err, size_t n)
{
    const struct sx_opt *o = sx_config_find(name);
    if (!o) {
        snprintf(err, n, "no such setting");
        return -1;
    }
    return sx_config_set_text(k, o, v, v ? strlen(v) : 0, err, n);
}

static void test_table(void)
{
    int n = 0;
    for (const struct sx_opt *o = sx_config_opts; o->name; o++, n++) {
        test_cond("every setting is documented", o->doc && *o->doc);
        test_cond("numbers have bounds",
                  (o->type != SX_OPT_SECONDS && o->type != SX_OPT_COUNT &&
                   o->type != SX_OPT_NUMBER) ||
                      o->min <= o->max);
        test_cond("names are unique", sx_config_find(o->name) == o);
        test_cond("flags are unique",
                  !o->flag || sx_config_find_flag(o->flag) == o);
    }
    test_cond("the table is not empty", n > 10);
    test_cond("find: unknown", sx_config_find("nonsense") == NULL);
    test_cond("find_flag", sx_config_find_flag("--timeout") ==
                               sx_config_find("timeout"));
    test_cond("secrets have no flag", !sx_config_find("api_key")->flag &&
                                          !sx_config_find("access_token")->flag);
}

static void test_defaults(void)
{
    struct sx_config k;
    sx_config_defaults(&k);
    test_cond("timeout 30", th_near(k.timeout, 30, 0));
    test_cond("max_connections 100", k.max_connections == 100);
    test_cond("rate 1/1s", k.rate_on && th_near(k.rate, 1, 0) &&
                               th_near(k.period, 1, 0) &&
                               th_near(k.burst, 1, 0));
    test_cond("retry.max_attempts 5", k.max_attempts == 5);
    test_cond("log level info", k.log_level == SX_LOG_INFO && !k.log_json);
    test_cond("no strings set", !k.base_url && !k.api_key && !k.ca_file);
    sx_config_free(&k);
}

static void test_numbers(void)
{
    char err[300];
    struct sx_config k;
    sx_config_defaults(&k);
    test_cond("timeout 5", set(&k, "timeout", "5", err, sizeof err) == 0 &&
                               th_near(k.timeout, 5, 0));
    test_cond("timeout 1e300 refused",
              set(&k, "timeout", "1e300", err, sizeof err) < 0 &&
                  strstr(err, "'timeout' must be a number between 0.001 "
                              "and 86400") != NULL);
    test_cond("the old value stays", th_near(k.timeout, 5, 0));
    test_cond("nan refused", set(&k, "timeout", "nan", err, sizeof err) < 0);
    test_cond("inf refused", set(&k, "timeout", "inf", err, sizeof err) < 0);
    test_cond("junk refused", set(&k, "timeout", "5s", err, sizeof err) < 0);
    test_cond("empty refused", set(&k, "timeout", "", err, sizeof err) < 0);
    test_cond("max_connections 0 refused",
              set(&k, "max_connections", "0", err, sizeof err) < 0 &&
                  strstr(err, "an integer between 1 and 1024") != NULL);
    test_cond("max_connections 2.5 refused",
              set(&k, "max_connections", "2.5", err, sizeof err) < 0);
    test_cond("max_body 1e300 refused",
              set(&k, "max_body", "1e300", err, sizeof err) < 0);
    test_cond("retry.max_attempts 1e300 refused",
              set(&k, "retry.max_attempts", "1e300", err, sizeof err) < 0);
    test_cond("max_idle 0 ok", set(&k, "max_idle", "0", err, sizeof err) ==
                                       0 && k.max_idle == 0);
    test_cond("set_number NaN refused",
              sx_config_set_number(&k, sx_config_find("timeout"), 0.0 / 0.0,
                                   err, sizeof err) < 0);
    test_cond("set_number on a string setting refused",
              sx_config_set_number(&k, sx_config_find("base_url"), 1, err,
                                   sizeof err) < 0);
    sx_config_free(&k);
}

static void test_rate(void)
{
    char err[300];
    struct sx_config k;
    sx_config_defaults(&k);
    test_cond("10/1s", set(&k, "rate", "10/1s", err, sizeof err) == 0 &&
                           th_near(k.rate, 10, 0) && th_near(k.burst, 10, 0));
    test_cond("off", set(&k, "rate", "off", err, sizeof err) == 0 &&
                         !k.rate_on);
    test_cond("1/1e300s refused", set(&k, "rate", "1/1e300s", err,
                                      sizeof err) < 0 &&
                                      strstr(err, "bad rate '1/1e300s'"));
    test_cond("a refused rate leaves it off", !k.rate_on);
    test_cond("burst 0 refused",
              sx_config_set_rate(&k, 1, 1, 0, err, sizeof err) < 0);
    test_cond("burst 1e7 refused",
              sx_config_set_rate(&k, 5, 1, 1e7, err, sizeof err) < 0);
    test_cond("rate 1e-9 refused",
              sx_config_set_rate(&k, 1e-9, 1, -1, err, sizeof err) < 0);
    test_cond("a small rate gets burst 1",
              sx_config_set_rate(&k, 0.5, 1, -1, err, sizeof err) == 0 &&
                  th_near(k.burst, 1, 0));
    sx_config_free(&k);
}

static void test_strings(void)
{
    char err[300];
    struct sx_config k, c;
    const struct sx_opt *tok = sx_config_find("access_token");
    sx_config_defaults(&k);
    test_cond("base_url trailing slashes trimmed",
              set(&k, "base_url", "https://h/v2//", err, sizeof err) == 0 &&
                  strcmp(k.base_url, "https://h/v2") == 0);
    test_cond("base_url ftp refused",
              set(&k, "base_url", "ftp://x", err, sizeof err) < 0 &&
                  strstr(err, "base_url must start with") != NULL);
    test_cond("base_url with a space refused",
              set(&k, "base_url", "https://h/a b", err, sizeof err) < 0);
    test_cond("token with CR LF refused",
              set(&k, "access_token", "a\r\nX-Injected: yes", err,
                  sizeof err) < 0 &&
                  strstr(err, "control character") != NULL);
    test_cond("no token set", k.access_token == NULL);
    test_cond("token with NUL refused",
              sx_config_set_text(&k, tok, "ab\0cd", 5, err, sizeof err) < 0 &&
                  strstr(err, "NUL") != NULL);
    test_cond("token set", set(&k, "access_token", "tok", err,
                               sizeof err) == 0 &&
                               strcmp(k.access_token, "tok") == 0);
    test_cond("a missing ca_file refused",
              set(&k, "ca_file", "/nonexistent/ca.pem", err, sizeof err) < 0 &&
                  strstr(err, "cannot read ca_file '/nonexistent/ca.pem'"));
    test_cond("copy", sx_config_copy(&c, &k) == 0 && c.access_token &&
                          c.access_token != k.access_token &&
                          strcmp(c.access_token, "tok") == 0);
    test_cond("clear", set(&c, "access_token", NULL, err, sizeof err) == 0 &&
                           c.access_token == NULL);
    test_cond("the copy's change leaves the original",
              strcmp(k.access_token, "tok") == 0);
    test_cond("log_level loud refused",
              set(&k, "log_level", "loud", err, sizeof err) < 0 &&
                  strstr(err, "bad log_level 'loud'") != NULL);
    test_cond("log_format json", set(&k, "log_format", "json", err,
                                     sizeof err) == 0 && k.log_json == 1);
    sx_config_free(&c);
    sx_config_free(&k);
    test_cond("free clears", k.access_token == NULL && k.base_url == NULL);
}

/* sx_config_format (stockx config) and sx_config_suggest ("did you mean"). */
static void test_format(void)
{
    struct sx_config k;
    char err[300], buf[64];
    static const char *const names[] = {"timeout", "max_idle",
                                        "retry.max_attempts", NULL};
    sx_config_defaults(&k);
    test_cond("format: a number",
              !strcmp(sx_config_format(&k, sx_config_find("timeout"), buf,
                                       sizeof buf), "30"));
    test_cond("format: the rate",
              !strcmp(sx_config_format(&k, sx_config_find("rate"), buf,
                                       sizeof buf), "1/1s burst 1"));
    test_cond("format: an unset secret",
              !strcmp(sx_config_format(&k, sx_config_find("client_secret"),
                                       buf, sizeof buf), "(not set)"));
    test_cond("client_secret is a secret, client_id a string",
              sx_config_find("client_secret")->type == SX_OPT_SECRET &&
                  sx_config_find("client_id")->type == SX_OPT_STRING);
    set(&k, "client_secret", "hush-1234", err, sizeof err);
    set(&k, "client_id", "me", err, sizeof err);
    test_cond("format: a secret is only (set)",
              !strcmp(sx_config_format(&k, sx_config_find("client_secret"),
                                       buf, sizeof buf), "(set)"));
    test_cond("format: client_id",
              !strcmp(sx_config_format(&k, sx_config_find("client_id"), buf,
                                       sizeof buf), "me"));
    test_cond("client_id refuses control characters",
              set(&k, "client_id", "a\nb", err, sizeof err) < 0);
    sx_config_free(&k);
    test_cond("suggest: one letter off",
              !strcmp(sx_config_suggest("timout", names), "timeout"));
    test_cond("suggest: in a group", !strcmp(sx_config_suggest(
        "retry.max_atempts", names), "retry.max_attempts"));
    test_cond("suggest: nothing near", !sx_config_suggest("colour", names));
}

int main(void)
{
    test_table();
    test_defaults();
    test_numbers();
    test_rate();
    test_strings();
    test_format();
    return test_report();
}
