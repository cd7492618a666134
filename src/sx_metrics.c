/*
 * The Prometheus registry and its text rendering (see sx_metrics.h).
 * Single-threaded like the loop; memory is bounded by the family and
 * series limits, and rendering checks the format's invariants as it goes.
 */
#include "sx_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    char **values;     /* one per label name */
    double value;      /* counter/gauge; histogram: the sum */
    double count;      /* histogram observations */
    double *buckets;   /* histogram: per-bucket counts, not cumulative */
};

struct family {
    char *name, *help;
    enum sx_metric_type type;
    char *labels[SX_METRICS_MAX_LABELS];
    int nlabels;
    double le[SX_METRICS_MAX_BUCKETS];
    int nle;
    struct series *series;
    int nseries, cap;
};

struct sx_metrics {
    struct family fam[SX_METRICS_MAX_FAMILIES];
    int nfam;
    int max_series;
};

static const double default_le[] = {.005, .01, .025, .05, .1, .25, .5,
                                    1,    2.5, 5,   10};

/* ---- names and numbers ---------------------------------------------- */

static int name_char(int c, int first, int colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return 1;
    if (c == ':')
        return colon;
    return !first && c >= '0' && c <= '9';
}

static int valid(const char *s, int colon)
{
    if (!s || !*s || strlen(s) > 200)
        return 0;
    for (const char *p = s; *p; p++)
        if (!name_char((unsigned char)*p, p == s, colon))
            return 0;
    return 1;
}

int sx_metrics_valid_name(const char *s) { return valid(s, 1); }

int sx_metrics_valid_label(const char *s)
{
    return valid(s, 0) && strncmp(s, "__", 2) != 0;
}

void sx_metrics_format(double v, char *out, size_t outlen)
{
    if (isnan(v))
        snprintf(out, outlen, "NaN");
    else if (isinf(v))
        snprintf(out, outlen, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, outlen, "%.0f", v == 0 ? 0.0 : v);
    else {
        /* the shortest of %.15g..%.17g that reads back the same */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, outlen, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ---- families ---------------------------------------------------------- */

struct sx_metrics *sx_metrics_new(int max_series)
{
    struct sx_metrics *m;
    if (max_series < 1 || max_series > 100000)
        return NULL;
    if ((m = calloc(1, sizeof *m)) == NULL)
        return NULL;
    m->max_series = max_series;
    return m;
}

static void free_family(struct family *f)
{
    for (int i = 0; i < f->nseries; i++) {
        for (int j = 0; j < f->nlabels; j++)
            free(f->series[i].values[j]);
        free(f->series[i].values);
        free(f->series[i].buckets);
    }
    free(f->series);
    for (int j = 0; j < f->nlabels; j++)
        free(f->labels[j]);
    free(f->name);
    free(f->help);
}

void sx_metrics_free(struct sx_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nfam; i++)
        free_family(&m->fam[i]);
    free(m);
}

/* The name's rules for its type (promtool's lint). */
static const char *name_problem(const char *name, enum sx_metric_type t)
{
    if (!sx_metrics_valid_name(name))
        return "is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)";
    if (t == SX_METRIC_COUNTER && !ends_with(name, "_total"))
        return "is a counter: its name must end in _total";
    if (t != SX_METRIC_COUNTER && ends_with(name, "_total"))
        return "ends in _total, which is for counters";
    if (ends_with(name, "_bucket") || ends_with(name, "_sum") ||
        ends_with(name, "_count"))
        return "ends in _bucket, _sum or _count (a histogram's series)";
    return NULL;
}

static int check_labels(const char *name, const char *const *labels,
                        int n, char *err, size_t errlen)
{
    if (n < 0 || n > SX_METRICS_MAX_LABELS)
        return snprintf(err, errlen, "metric %s: at most %d labels", name,
                        SX_METRICS_MAX_LABELS), -1;
    for (int i = 0; i < n; i++) {
        if (!sx_metrics_valid_label(labels[i]) || !strcmp(labels[i], "le") ||
            !strcmp(labels[i], "quantile"))
            return snprintf(err, errlen, "metric %s: '%s' is not a label "
                            "name ([a-zA-Z_][a-zA-Z0-9_]*, no __ prefix, not "
                            "le or quantile)", name, labels[i] ? labels[i]
                            : "(null)"), -1;
        for (int j = 0; j < i; j++)
            if (!strcmp(labels[i], labels[j]))
                return snprintf(err, errlen, "metric %s: label '%s' given "
                                "twice", name, labels[i]), -1;
    }
    return 0;
}

static int check_buckets(const char *name, const double *b, int n,
                         char *err, size_t errlen)
{
    if (n < 1 || n > SX_METRICS_MAX_BUCKETS)
        return snprintf(err, errlen, "metric %s: 1 to %d buckets", name,
                        SX_METRICS_MAX_BUCKETS), -1;
    for (int i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1])))
            return snprintf(err, errlen, "metric %s: buckets must be finite "
                            "and increasing", name), -1;
    return 0;
}

/* 1 if f is already what the arguments describe. */
static int same_family(const struct family *f, enum sx_metric_type t,
                       const char *const *labels, int n, const double *b,
                       int nb)
{
    if (f->type != t || f->nlabels != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]))
            return 0;
    if (t != SX_METRIC_HISTOGRAM)
        return 1;
    if (f->nle != nb)
        return 0;
    return memcmp(f->le, b, (size_t)nb * sizeof *b) == 0;
}

static int fill_family(struct family *f, const char *name, const char *help,
                       enum sx_metric_type t, const char *const *labels,
                       int n, const double *b, int nb)
{
    memset(f, 0, sizeof *f);
    f->type = t;
    if (!(f->name = strdup(name)) || !(f->help = strdup(help ? help : "")))
        return -1;
    for (; f->nlabels < n; f->nlabels++)
        if (!(f->labels[f->nlabels] = strdup(labels[f->nlabels])))
            return -1;
    if (t == SX_METRIC_HISTOGRAM) {
        memcpy(f->le, b, (size_t)nb * sizeof *b);
        f->nle = nb;
    }
    return 0;
}

int sx_metrics_family(struct sx_metrics *m, const char *name,
                      const char *help, enum sx_metric_type type,
                      const char *const *labels, int nlabels,
                      const double *buckets, int nbuckets, char *err,
                      size_t errlen)
{
    const char *why = name ? name_problem(name, type) : "is missing";
    if (why)
        return snprintf(err, errlen, "metric '%s' %s", name ? name : "",
                        why), -1;
    if (check_labels(name, labels, nlabels, err, errlen) < 0)
        return -1;
    if (type == SX_METRIC_HISTOGRAM && !buckets) {
        buckets = default_le;
        nbuckets = (int)(sizeof default_le / sizeof *default_le);
    }
    if (type == SX_METRIC_HISTOGRAM &&
        check_buckets(name, buckets, nbuckets, err, errlen) < 0)
        return -1;
    for (int i = 0; i < m->nfam; i++) {
        if (strcmp(m->fam[i].name, name))
            continue;
        if (same_family(&m->fam[i], type, labels, nlabels, buckets, nbuckets))
            return i;
        return snprintf(err, errlen, "metric %s is already defined with "
                        "another type, labels or buckets", name), -1;
    }
    if (m->nfam == SX_METRICS_MAX_FAMILIES)
        return snprintf(err, errlen, "metric %s: more than %d metrics", name,
                        SX_METRICS_MAX_FAMILIES), -1;
    if (fill_family(&m->fam[m->nfam], name, help, type, labels, nlabels,
                    buckets, nbuckets) < 0) {
        free_family(&m->fam[m->nfam]);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    return m->nfam++;
}

/* ---- series ------------------------------------------------------------ */

static int find_series(const struct family *f, const char *const *values)
{
    for (int i = 0; i < f->nseries; i++) {
        int j = 0;
        while (j < f->nlabels && !strcmp(f->series[i].values[j], values[j]))
            j++;
        if (j == f->nlabels)
            return i;
    }
    return -1;
}

static int new_series(struct family *f, const char *const *values)
{
    struct series *s;
    if (f->nseries == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        void *p = realloc(f->series, (size_t)cap * sizeof *f->series);
        if (!p)
            return -1;
        f->series = p;
        f->cap = cap;
    }
    s = &f->series[f->nseries];
    memset(s, 0, sizeof *s);
    s->values = calloc((size_t)f->nlabels + 1, sizeof *s->values);
    if (!s->values)
        return -1;
    if (f->type == SX_METRIC_HISTOGRAM &&
        !(s->buckets = calloc((size_t)f->nle, sizeof *s->buckets)))
        goto err;
    for (int j = 0; j < f->nlabels; j++)
        if (!(s->values[j] = strdup(values[j])))
            goto err;
    return f->nseries++;
err:
    for (int j = 0; j < f->nlabels; j++)
        free(s->values[j]);
    free(s->values);
    free(s->buckets);
    return -1;
}

int sx_metrics_series(struct sx_metrics *m, int fam,
                      const char *const *values, char *err, size_t errlen)
{
    struct family *f = &m->fam[fam];
    int i;
    for (int j = 0; j < f->nlabels; j++)
        if (!values[j] || strlen(values[j]) > SX_METRICS_MAX_VALUE)
            return snprintf(err, errlen, "metric %s: label %s: a value of "
                            "at most %d bytes expected", f->name,
                            f->labels[j], SX_METRICS_MAX_VALUE), -1;
    if ((i = find_series(f, values)) >= 0)
        return i;
    if (f->nseries >= m->max_series) {
        /* name the label with the most distinct values: the culprit */
        int worst = 0, most = 0;
        for (int j = 0; j < f->nlabels; j++) {
            int distinct = 0;
            for (int k = 0; k < f->nseries; k++) {
                int seen = 0;
                for (int l = 0; l < k && !seen; l++)
                    seen = !strcmp(f->series[l].values[j],
                                   f->series[k].values[j]);
                distinct += !seen;
            }
            if (distinct > most)
                most = distinct, worst = j;
        }
        return snprintf(err, errlen, "metric %s: label %s has too many "
                        "values (more than %d series): use bounded values "
                        "only, never ids", f->name,
                        f->nlabels ? f->labels[worst] : "(none)",
                        m->max_series), -1;
    }
    if ((i = new_series(f, values)) < 0)
        return snprintf(err, errlen, "out of memory"), -1;
    return i;
}

static int type_error(const struct family *f, const char *what, char *err,
                      size_t errlen)
{
    static const char *const names[] = {"counter", "gauge", "histogram"};
    return snprintf(err, errlen, "metric %s is a %s: %s", f->name,
                    names[f->type], what), -1;
}

int sx_metrics_add(struct sx_metrics *m, int fam, int series, double v,
                   char *err, size_t errlen)
{
    struct family *f = &m->fam[fam];
    if (f->type == SX_METRIC_HISTOGRAM)
        return type_error(f, "use observe", err, errlen);
    if (!isfinite(v) || (f->type == SX_METRIC_COUNTER && v < 0))
        return snprintf(err, errlen, "metric %s: %s", f->name,
                        f->type == SX_METRIC_COUNTER
                        ? "a counter only goes up (a finite n >= 0)"
                        : "a finite number expected"), -1;
    f->series[series].value += v;
    return 0;
}

int sx_metrics_set(struct sx_metrics *m, int fam, int series, double v,
                   char *err, size_t errlen)
{
    struct family *f = &m->fam[fam];
    if (f->type != SX_METRIC_GAUGE)
        return type_error(f, "only a gauge can be set", err, errlen);
    f->series[series].value = v;
    return 0;
}

int sx_metrics_observe(struct sx_metrics *m, int fam, int series, double v,
                       char *err, size_t errlen)
{
    struct family *f = &m->fam[fam];
    struct series *s = &f->series[series];
    if (f->type != SX_METRIC_HISTOGRAM)
        return type_error(f, "only a histogram observes", err, errlen);
    if (isnan(v))
        return snprintf(err, errlen, "metric %s: NaN observed", f->name), -1;
    for (int i = 0; i < f->nle; i++)
        if (v <= f->le[i]) {
            s->buckets[i]++;
            break;
        }
    s->count++;
    s->value += v;
    return 0;
}

int sx_metrics_label_names(const struct sx_metrics *m, int fam,
                           const char **names)
{
    const struct family *f = &m->fam[fam];
    for (int j = 0; j < f->nlabels; j++)
        names[j] = f->labels[j];
    return f->nlabels;
}

double sx_metrics_value(const struct sx_metrics *m, int fam, int series)
{
    const struct family *f = &m->fam[fam];
    return f->type == SX_METRIC_HISTOGRAM ? f->series[series].count
                                          : f->series[series].value;
}

/* ---- rendering --------------------------------------------------------- */

/* HELP text escapes \ and newline; label values also escape ". */
static int add_escaped(struct sx_buf *b, const char *s, int quote)
{
    for (; *s; s++) {
        int rc = *s == '\\'  ? sx_buf_add(b, "\\\\", 2)
                 : *s == '\n' ? sx_buf_add(b, "\\n", 2)
                 : *s == '"' && quote ? sx_buf_add(b, "\\\"", 2)
                                      : sx_buf_add(b, s, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* {a="x",b="y"} with an optional le, or nothing at all. */
static int add_labels(struct sx_buf *b, const struct family *f,
                      const struct series *s, const char *le)
{
    int n = 0;
    if (f->nlabels == 0 && !le)
        return 0;
    if (sx_buf_add(b, "{", 1) < 0)
        return -1;
    for (int j = 0; j < f->nlabels; j++, n++)
        if (sx_buf_addf(b, "%s%s=\"", n ? "," : "", f->labels[j]) < 0 ||
            add_escaped(b, s->values[j], 1) < 0 || sx_buf_add(b, "\"", 1) < 0)
            return -1;
    if (le && sx_buf_addf(b, "%sle=\"%s\"", n ? "," : "", le) < 0)
        return -1;
    return sx_buf_add(b, "}", 1);
}

static int add_sample(struct sx_buf *b, const struct family *f,
                      const struct series *s, const char *suffix,
                      const char *le, double v)
{
    char num[40];
    sx_metrics_format(v, num, sizeof num);
    if (sx_buf_addf(b, "%s%s", f->name, suffix) < 0 ||
        add_labels(b, f, s, le) < 0)
        return -1;
    return sx_buf_addf(b, " %s\n", num);
}

static int render_histogram(struct sx_buf *b, const struct family *f,
                            const struct series *s)
{
    double cum = 0;
    char le[40];
    for (int i = 0; i < f->nle; i++) {
        cum += s->buckets[i];
        sx_metrics_format(f->le[i], le, sizeof le);
        if (add_sample(b, f, s, "_bucket", le, cum) < 0)
            return -1;
    }
    /* +Inf holds everything, = _count */
    if (add_sample(b, f, s, "_bucket", "+Inf", s->count) < 0 ||
        add_sample(b, f, s, "_sum", NULL, s->value) < 0)
        return -1;
    return add_sample(b, f, s, "_count", NULL, s->count);
}

static const struct family *sort_fam; /* for cmp_series: single-threaded */

static int cmp_series(const void *a, const void *b)
{
    const struct series *x = *(const struct series *const *)a;
    const struct series *y = *(const struct series *const *)b;
    for (int j = 0; j < sort_fam->nlabels; j++) {
        int c = strcmp(x->values[j], y->values[j]);
        if (c)
            return c;
    }
    return 0;
}

static int render_family(struct sx_buf *b, const struct family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    const struct series **order;
    int rc = 0;
    if (f->nseries == 0) /* nothing to say yet */
        return 0;
    if (!(order = malloc((size_t)f->nseries * sizeof *order)))
        return -1;
    for (int i = 0; i < f->nseries; i++)
        order[i] = &f->series[i];
    sort_fam = f;
    qsort(order, (size_t)f->nseries, sizeof *order, cmp_series);
    if (sx_buf_addf(b, "# HELP %s ", f->name) < 0 ||
        add_escaped(b, f->help, 0) < 0 ||
        sx_buf_addf(b, "\n# TYPE %s %s\n", f->name, types[f->type]) < 0)
        rc = -1;
    for (int i = 0; i < f->nseries && rc == 0; i++)
        rc = f->type == SX_METRIC_HISTOGRAM
                 ? render_histogram(b, f, order[i])
                 : add_sample(b, f, order[i], "", NULL, order[i]->value);
    free(order);
    return rc;
}

static int cmp_family(const void *a, const void *b)
{
    const struct family *x = *(const struct family *const *)a;
    const struct family *y = *(const struct family *const *)b;
    return strcmp(x->name, y->name);
}

int sx_metrics_render(const struct sx_metrics *m, struct sx_buf *out)
{
    const struct family *order[SX_METRICS_MAX_FAMILIES];
    size_t start = out->len;
    for (int i = 0; i < m->nfam; i++)
        order[i] = &m->fam[i];
    qsort(order, (size_t)m->nfam, sizeof *order, cmp_family);
    for (int i = 0; i < m->nfam; i++)
        if (render_family(out, order[i]) < 0) {
            out->len = start;
            if (out->data)
                out->data[start] = '\0';
            return -1;
        }
    /* every line ends in \n: an empty registry renders as "" */
    return 0;
}
