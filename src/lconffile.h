/*
 * The configuration file, $XDG_CONFIG_HOME/stockx/config.lua: a Lua chunk
 * returning a table of settings (and profiles), evaluated where it can
 * only compute values, and applied through the settings table.  Also
 * what `stockx config` prints: every setting and where it came from.
 */
#ifndef SX_LCONFFILE_H
#define SX_LCONFFILE_H
#include <stdio.h>

#include "sx_config.h"

/* Where a setting's value came from, lowest first. */
enum sx_conffile_src {
    SX_SRC_DEFAULT,
    SX_SRC_FILE,    /* the config file's top level */
    SX_SRC_PROFILE, /* the selected profile */
    SX_SRC_ENV,
    SX_SRC_FLAG
};

#define SX_CONFFILE_MAXOPTS 128

struct sx_conffile {
    char path[4096];      /* the file read or looked for; "" for none */
    int found;            /* it existed and was read */
    const char *profile;  /* the selected profile, or NULL */
    char profiles[512];   /* the file's profiles, "a, b", or "" */
    unsigned char src[SX_CONFFILE_MAXOPTS]; /* per descriptor */
};

/*
 * Reads the config file into k (top-level keys, then those of profile
 * unless it is NULL): path, or the default path when path is NULL (a
 * missing default file is no error).  Prints the permission warning on
 * stderr.  0, or -1 with err naming the file (and the key, the profile).
 */
int sx_conffile_load(struct sx_conffile *f, struct sx_config *k,
                     const char *path, const char *profile, char *err,
                     size_t errlen);

/* Records that o was set from src. */
void sx_conffile_mark(struct sx_conffile *f, const struct sx_opt *o,
                      enum sx_conffile_src src);

/* `stockx config`: the file, the profiles, every setting and its source. */
void sx_conffile_report(const struct sx_conffile *f,
                        const struct sx_config *k, FILE *out);

#endif
