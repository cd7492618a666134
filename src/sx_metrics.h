/*
 * An in-process Prometheus registry: counters, gauges and fixed-bucket
 * histograms with bounded label sets, rendered in the text exposition
 * format 0.0.4.  Names, labels and values are checked as they come in,
 * so the rendered text always passes `promtool check metrics`.
 */
#ifndef SX_METRICS_H
#define SX_METRICS_H
#include <stddef.h>

#include "sx_buf.h"

enum sx_metric_type { SX_METRIC_COUNTER, SX_METRIC_GAUGE, SX_METRIC_HISTOGRAM };

#define SX_METRICS_MAX_LABELS 8    /* label names per family */
#define SX_METRICS_MAX_BUCKETS 32  /* finite buckets per histogram */
#define SX_METRICS_MAX_FAMILIES 256
#define SX_METRICS_MAX_VALUE 256   /* bytes per label value */

struct sx_metrics;

/* max_series: label combinations allowed per family (1..100000). */
struct sx_metrics *sx_metrics_new(int max_series);
void sx_metrics_free(struct sx_metrics *m);

/*
 * Defines a family, or finds the one of that name when type, labels and
 * buckets agree: its index, or -1 with a message in err.  buckets (for a
 * histogram) strictly increase and are finite; NULL/0: the default
 * buckets .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
 */
int sx_metrics_family(struct sx_metrics *m, const char *name,
                      const char *help, enum sx_metric_type type,
                      const char *const *labels, int nlabels,
                      const double *buckets, int nbuckets, char *err,
                      size_t errlen);

/* The series of family fam with these label values (one per label name),
 * created at 0 if new: its index, or -1 (beyond the cardinality limit,
 * a value too long) with a message naming the metric and label. */
int sx_metrics_series(struct sx_metrics *m, int fam,
                      const char *const *values, char *err, size_t errlen);

/* Counter: add v >= 0.  Gauge: add any finite v.  0 or -1 with err. */
int sx_metrics_add(struct sx_metrics *m, int fam, int series, double v,
                   char *err, size_t errlen);
/* Gauge only: set v (NaN and infinities allowed). */
int sx_metrics_set(struct sx_metrics *m, int fam, int series, double v,
                   char *err, size_t errlen);
/* Histogram only: one observation (not NaN). */
int sx_metrics_observe(struct sx_metrics *m, int fam, int series, double v,
                       char *err, size_t errlen);

/* The family's label names into names[SX_METRICS_MAX_LABELS]: how many. */
int sx_metrics_label_names(const struct sx_metrics *m, int fam,
                           const char **names);

/* Current value of a counter or gauge series, or a histogram's count. */
double sx_metrics_value(const struct sx_metrics *m, int fam, int series);

/* Appends the exposition: families by name, series by label values, a
 * final newline.  0, or -1 when out isn't big enough. */
int sx_metrics_render(const struct sx_metrics *m, struct sx_buf *out);

/* Helpers, exported for the tests: 1 if valid. */
int sx_metrics_valid_name(const char *s);
int sx_metrics_valid_label(const char *s);
/* A sample value as promtool reads it back exactly: 3, 0.25, +Inf, NaN. */
void sx_metrics_format(double v, char *out, size_t outlen);

#endif
