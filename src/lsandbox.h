/*
 * The StockX sandbox as a guest on the program's event loop: its command
 * line flags, and its own Lua state (sharing no globals with a script)
 * running stockx.sandbox.serve{} (lua/stockx/sandbox.lua).
 */
#ifndef SX_LSANDBOX_H
#define SX_LSANDBOX_H
#include <stddef.h>

struct event_base;
struct sx_sandbox;

/* The flags, for the program's usage text. */
#define SX_SANDBOX_USAGE \
    "  --port N             listen on 127.0.0.1:N (default 0: any free port)\n" \
    "  --seed S             seed of the generated catalog and account (1)\n" \
    "  --state FILE         load FILE if it exists; save every change to it\n" \
    "  --rate-limit N/Ps|off  the sandbox's rate limit per API key (1/1s)\n" \
    "  --quota N|off        requests per API key and day (25000)\n" \
    "  --fault SPEC         inject faults: [METHOD ]PATTERN:key=value,...\n" \
    "                       (repeatable)\n"

/* The flags as given: argv[first..end) (values are checked at open). */
struct sx_sandbox_opts {
    char **argv;
    int first, end;
};

/*
 * Reads sandbox flags from argv[i] on: all of the remaining arguments
 * when `all` is set (stockx sandbox), else up to the first argument that
 * is not a sandbox flag (run --sandbox FLAGS FILE).  Returns the index
 * after them, or -1 with a message in err.
 */
int sx_sandbox_flags(struct sx_sandbox_opts *o, int argc, char **argv, int i,
                     int all, char *err, size_t errlen);

/*
 * Starts the sandbox on base in a Lua state of its own.  Returns NULL
 * when it cannot, with the reason printed on stderr and *usage set to 1
 * when a flag's value was bad (0 otherwise).
 */
struct sx_sandbox *sx_sandbox_open(struct event_base *base,
                                   const struct sx_sandbox_opts *o,
                                   int *usage);

/* "http://127.0.0.1:PORT", and the credentials the sandbox accepts. */
const char *sx_sandbox_url(const struct sx_sandbox *sb);
const char *sx_sandbox_api_key(const struct sx_sandbox *sb);
const char *sx_sandbox_access_token(const struct sx_sandbox *sb);

/* Saves pending state, stops serving, closes the Lua state; NULL is ok. */
void sx_sandbox_close(struct sx_sandbox *sb);

#endif
