/*
 * The Lua modules under lua/, compiled into the binary by src/embed.sh.
 * The table ends with an entry whose name is NULL.
 */
#ifndef SX_EMBED_H
#define SX_EMBED_H
#include <stddef.h>

struct sx_embed {
    const char *name;      /* module name, "stockx.sandbox" */
    const char *chunkname; /* "@lua/stockx/sandbox.lua" */
    const char *code;
    size_t len;
};

extern const struct sx_embed sx_embedded[];

#endif
