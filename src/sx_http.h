/*
 * HTTP facts shared by the client, the sandbox server and the Lua library:
 * the reason phrase of a status code.
 */
#ifndef SX_HTTP_H
#define SX_HTTP_H

/*
 * The reason phrase RFC 9110 section 15 registers for status (plus the
 * IANA-registered 102, 103, 207, 208, 226, 423, 424, 508, 510 from their
 * own RFCs), e.g. 429 -> "Too Many Requests", 413 -> "Content Too Large",
 * 422 -> "Unprocessable Content".  418 and 306 are "(Unused)" in RFC 9110
 * and return NULL, as does any unregistered code, so callers pick their
 * own fallback (evhttp's table, or no phrase).
 */
const char *sx_http_reason(int status);

#endif
