/*
 * The interactive prompt: lines read on the runtime's loop (readline's
 * callback interface on a terminal, plain lines from a pipe), Lua's REPL
 * rules, each chunk run as a task that Ctrl-C stops alone, a history file
 * that never holds a secret, and completion that calls no function.  The
 * printer and the completion candidates are lua/stockx/repl.lua.
 */
#ifndef SX_LREPL_H
#define SX_LREPL_H

struct sx_rt;

/*
 * Runs the REPL on rt's loop (stockx has been required) until the end of
 * input (Ctrl-D), then, as a script ends, until the last task has ended.
 * Returns 0, or 1 if a task other than a chunk failed (or a deadlock).
 */
int sx_repl_run(struct sx_rt *rt);

#endif
