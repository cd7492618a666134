/*
 * Unit tests for sx_metrics: name and label validation, label-value and
 * HELP escaping (fuzzed with \, " and newlines), cumulative buckets with
 * +Inf = _count, _sum, sorted output, the cardinality limit and its
 * message, float formatting that reads back exactly, the trailing newline.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sx_metrics.h"
#include "testhelp.h"

static char err[300];

static char *render(struct sx_metrics *m)
{
    struct sx_buf b;
    sx_buf_init(&b, 0);
    if (sx_metrics_render(m, &b) < 0 || !b.data) {
        sx_buf_free(&b);
        return strdup("");
    }
    return b.data;
}

static void test_names(void)
{
    test_cond("plain name", sx_metrics_valid_name("stockx_requests_total"));
    test_cond("colon allowed in names", sx_metrics_valid_name("a:b"));
    test_cond("digit first refused", !sx_metrics_valid_name("1abc"));
    test_cond("dash refused", !sx_metrics_valid_name("a-b"));
    test_cond("empty refused", !sx_metrics_valid_name(""));
    test_cond("label plain", sx_metrics_valid_label("status_class"));
    test_cond("label __ refused", !sx_metrics_valid_label("__name"));
    test_cond("label colon refused", !sx_metrics_valid_label("a:b"));
    struct sx_metrics *m = sx_metrics_new(10);
    const char *l[] = {"le"}, *dup[] = {"a", "a"};
    test_cond("counter without _total refused",
              sx_metrics_family(m, "x", "h", SX_METRIC_COUNTER, NULL, 0, NULL,
                                0, err, sizeof err) < 0 &&
                  strstr(err, "_total"));
    test_cond("gauge with _total refused",
              sx_metrics_family(m, "x_total", "h", SX_METRIC_GAUGE, NULL, 0,
                                NULL, 0, err, sizeof err) < 0);
    test_cond("gauge _count refused",
              sx_metrics_family(m, "x_count", "h", SX_METRIC_GAUGE, NULL, 0,
                                NULL, 0, err, sizeof err) < 0);
    test_cond("le label refused",
              sx_metrics_family(m, "x", "h", SX_METRIC_GAUGE, l, 1, NULL, 0,
                                err, sizeof err) < 0 && strstr(err, "'le'"));
    test_cond("duplicate label refused",
              sx_metrics_family(m, "x", "h", SX_METRIC_GAUGE, dup, 2, NULL, 0,
                                err, sizeof err) < 0);
    int a = sx_metrics_family(m, "g", "h", SX_METRIC_GAUGE, NULL, 0, NULL, 0,
                              err, sizeof err);
    test_cond("same family twice: same index",
              a >= 0 && sx_metrics_family(m, "g", "h", SX_METRIC_GAUGE, NULL,
                                          0, NULL, 0, err, sizeof err) == a);
    test_cond("same name, another type refused",
              sx_metrics_family(m, "g", "h", SX_METRIC_HISTOGRAM, NULL, 0,
                                NULL, 0, err, sizeof err) < 0);
    double bad[] = {1, 1};
    test_cond("non-increasing buckets refused",
              sx_metrics_family(m, "hh", "h", SX_METRIC_HISTOGRAM, NULL, 0,
                                bad, 2, err, sizeof err) < 0);
    sx_metrics_free(m);
}

static int reads_back(double v)
{
    char s[40];
    sx_metrics_format(v, s, sizeof s);
    return strtod(s, NULL) == v;
}

static void test_format(void)
{
    char s[40];
    sx_metrics_format(3, s, sizeof s);
    test_cond("integer", !strcmp(s, "3"));
    sx_metrics_format(0.005, s, sizeof s);
    test_cond("short decimal", !strcmp(s, "0.005"));
    sx_metrics_format(INFINITY, s, sizeof s);
    test_cond("+Inf", !strcmp(s, "+Inf"));
    sx_metrics_format(-INFINITY, s, sizeof s);
    test_cond("-Inf", !strcmp(s, "-Inf"));
    sx_metrics_format(NAN, s, sizeof s);
    test_cond("NaN", !strcmp(s, "NaN"));
    sx_metrics_format(-0.0, s, sizeof s);
    test_cond("negative zero as 0", !strcmp(s, "0"));
    int ok = 1;
    srand(7);
    for (int i = 0; i < 10000; i++) {
        double v = (rand() - RAND_MAX / 2) / (double)(rand() + 1) *
                   pow(10, rand() % 40 - 20);
        ok &= reads_back(v);
    }
    test_cond("random doubles read back exactly", ok);
    test_cond("0.1+0.2 reads back", reads_back(0.1 + 0.2));
}

static void test_histogram(void)
{
    struct sx_metrics *m = sx_metrics_new(10);
    const char *labels[] = {"job"}, *v[] = {"a"};
    double le[] = {0.1, 1, 10};
    int f = sx_metrics_family(m, "d_seconds", "Durations.",
                              SX_METRIC_HISTOGRAM, labels, 1, le, 3, err,
                              sizeof err);
    int s = sx_metrics_series(m, f, v, err, sizeof err);
    double obs[] = {0.05, 0.1, 0.5, 5, 50};
    for (int i = 0; i < 5; i++)
        sx_metrics_observe(m, f, s, obs[i], err, sizeof err);
    char *t = render(m);
    const char *want =
        "# HELP d_seconds Durations.\n"
        "# TYPE d_seconds histogram\n"
        "d_seconds_bucket{job=\"a\",le=\"0.1\"} 2\n"
        "d_seconds_bucket{job=\"a\",le=\"1\"} 3\n"
        "d_seconds_bucket{job=\"a\",le=\"10\"} 4\n"
        "d_seconds_bucket{job=\"a\",le=\"+Inf\"} 5\n"
        "d_seconds_sum{job=\"a\"} 55.65\n"
        "d_seconds_count{job=\"a\"} 5\n";
    test_cond("cumulative buckets, +Inf = count, sum", !strcmp(t, want));
    if (strcmp(t, want))
        printf("%s", t);
    test_cond("value of a histogram is its count",
              sx_metrics_value(m, f, s) == 5);
    test_cond("NaN not observed",
              sx_metrics_observe(m, f, s, NAN, err, sizeof err) < 0);
    test_cond("observe refused on a gauge-style add",
              sx_metrics_add(m, f, s, 1, err, sizeof err) < 0 &&
                  strstr(err, "histogram"));
    free(t);
    sx_metrics_free(m);
}

/* Unescapes one label value as Prometheus's parser does. */
static int unescape_matches(const char *esc, size_t n, const char *raw)
{
    char out[600];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (esc[i] == '\\') {
            i++;
            out[k++] = esc[i] == 'n' ? '\n' : esc[i];
        } else if (esc[i] == '"' || esc[i] == '\n') {
            return 0; /* raw quote or newline: broken */
        } else
            out[k++] = esc[i];
    }
    out[k] = 0;
    return !strcmp(out, raw);
}

static void test_escaping(void)
{
    struct sx_metrics *m = sx_metrics_new(1000);
    const char *labels[] = {"v"};
    int f = sx_metrics_family(m, "e", "Back\\slash and\nnewline \"kept\".",
                              SX_METRIC_GAUGE, labels, 1, NULL, 0, err,
                              sizeof err);
    const char *v[] = {"a\"b\\c\nd"};
    sx_metrics_series(m, f, v, err, sizeof err);
    char *t = render(m);
    test_cond("HELP escapes \\ and newline, keeps quotes",
              strstr(t, "# HELP e Back\\\\slash and\\nnewline \"kept\".\n"));
    test_cond("label value escaped",
              strstr(t, "e{v=\"a\\\"b\\\\c\\nd\"} 0\n"));
    free(t);
    sx_metrics_free(m);
    /* fuzz: random strings of \ " \n and letters round-trip */
    static const char alpha[] = "\\\"\nab";
    int ok = 1;
    srand(3);
    for (int round = 0; round < 500 && ok; round++) {
        char raw[40];
        int n = rand() % 30;
        for (int i = 0; i < n; i++)
            raw[i] = alpha[rand() % 5];
        raw[n] = 0;
        m = sx_metrics_new(10);
        f = sx_metrics_family(m, "e", "h", SX_METRIC_GAUGE, labels, 1, NULL,
                              0, err, sizeof err);
        const char *vv[] = {raw};
        sx_metrics_series(m, f, vv, err, sizeof err);
        t = render(m);
        char *open = strstr(t, "e{v=\""), *close = strrchr(t, '}');
        ok = open && close && close > open + 5 && close[-1] == '"' &&
             unescape_matches(open + 5, (size_t)(close - 1 - (open + 5)),
                              raw);
        free(t);
        sx_metrics_free(m);
    }
    test_cond("fuzzed label values round-trip", ok);
}

static void test_cardinality(void)
{
    struct sx_metrics *m = sx_metrics_new(3);
    const char *labels[] = {"method", "id"};
    int f = sx_metrics_family(m, "r_total", "h", SX_METRIC_COUNTER, labels, 2,
                              NULL, 0, err, sizeof err);
    const char *ids[] = {"1", "2", "3", "4"};
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        const char *v[] = {"GET", ids[i]};
        ok &= sx_metrics_series(m, f, v, err, sizeof err) == i;
    }
    test_cond("three series fit", ok);
    const char *again[] = {"GET", "2"};
    test_cond("an existing series is found past the limit",
              sx_metrics_series(m, f, again, err, sizeof err) == 1);
    const char *v4[] = {"GET", "4"};
    test_cond("the fourth is refused, naming metric and label",
              sx_metrics_series(m, f, v4, err, sizeof err) < 0 &&
                  strstr(err, "r_total") && strstr(err, "label id"));
    test_cond("counter refuses a negative add",
              sx_metrics_add(m, f, 0, -1, err, sizeof err) < 0);
    test_cond("counter cannot be set",
              sx_metrics_set(m, f, 0, 5, err, sizeof err) < 0);
    sx_metrics_add(m, f, 0, 2.5, err, sizeof err);
    test_cond("counter adds", sx_metrics_value(m, f, 0) == 2.5);
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *vb[] = {"GET", big};
    test_cond("a value too long is refused",
              sx_metrics_series(m, f, vb, err, sizeof err) < 0);
    test_cond("a bad limit is refused", sx_metrics_new(0) == NULL);
    sx_metrics_free(m);
}

static void test_order(void)
{
    struct sx_metrics *m = sx_metrics_new(10);
    const char *labels[] = {"k"};
    int z = sx_metrics_family(m, "z", "last", SX_METRIC_GAUGE, NULL, 0, NULL,
                              0, err, sizeof err);
    int a = sx_metrics_family(m, "a", "first", SX_METRIC_GAUGE, labels, 1,
                              NULL, 0, err, sizeof err);
    sx_metrics_family(m, "unused", "no series", SX_METRIC_GAUGE, labels, 1,
                      NULL, 0, err, sizeof err);
    const char *y[] = {"y"}, *x[] = {"x"};
    int sy = sx_metrics_series(m, a, y, err, sizeof err);
    sx_metrics_series(m, a, x, err, sizeof err);
    int sz = sx_metrics_series(m, z, NULL, err, sizeof err);
    sx_metrics_set(m, a, sy, NAN, err, sizeof err);
    sx_metrics_set(m, z, sz, -INFINITY, err, sizeof err);
    char *t = render(m);
    const char *want = "# HELP a first\n# TYPE a gauge\na{k=\"x\"} 0\n"
                       "a{k=\"y\"} NaN\n# HELP z last\n# TYPE z gauge\n"
                       "z -Inf\n";
    test_cond("families and series sorted, a family without series left "
              "out, trailing newline", !strcmp(t, want));
    if (strcmp(t, want))
        printf("%s", t);
    free(t);
    struct sx_buf small;
    sx_buf_init(&small, 10);
    test_cond("a full buffer fails cleanly",
              sx_metrics_render(m, &small) < 0 && small.len == 0);
    sx_buf_free(&small);
    sx_metrics_free(m);
}

int main(void)
{
    test_names();
    test_format();
    test_histogram();
    test_escaping();
    test_cardinality();
    test_order();
    return test_report();
}
