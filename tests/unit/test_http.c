/*
 * Unit tests for sx_http_reason: the phrases of every registered status
 * from 100 to 511, NULL for unregistered and out-of-range codes.
 */
#include <string.h>

#include "sx_http.h"
#include "testhelp.h"

static int reason_is(int status, const char *want)
{
    const char *got = sx_http_reason(status);

    if (got == NULL || strcmp(got, want) != 0) {
        printf("  %d -> %s\n", status, got ? got : "(null)");
        return 0;
    }
    return 1;
}

static const struct {
    int status;
    const char *phrase;
} known[] = {
    { 100, "Continue" }, { 101, "Switching Protocols" },
    { 102, "Processing" }, { 103, "Early Hints" }, { 200, "OK" },
    { 201, "Created" }, { 202, "Accepted" },
    { 203, "Non-Authoritative Information" }, { 204, "No Content" },
    { 205, "Reset Content" }, { 206, "Partial Content" },
    { 207, "Multi-Status" }, { 208, "Already Reported" },
    { 226, "IM Used" }, { 300, "Multiple Choices" },
    { 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
    { 304, "Not Modified" }, { 305, "Use Proxy" },
    { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" },
    { 402, "Payment Required" }, { 403, "Forbidden" }, { 404, "Not Found" },
    { 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
    { 407, "Proxy Authentication Required" }, { 408, "Request Timeout" },
    { 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
    { 412, "Precondition Failed" }, { 413, "Content Too Large" },
    { 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
    { 416, "Range Not Satisfiable" }, { 417, "Expectation Failed" },
    { 421, "Misdirected Request" }, { 422, "Unprocessable Content" },
    { 423, "Locked" }, { 424, "Failed Dependency" }, { 425, "Too Early" },
    { 426, "Upgrade Required" }, { 428, "Precondition Required" },
    { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" },
    { 451, "Unavailable For Legal Reasons" },
    { 500, "Internal Server Error" }, { 501, "Not Implemented" },
    { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
    { 506, "Variant Also Negotiates" }, { 507, "Insufficient Storage" },
    { 508, "Loop Detected" }, { 510, "Not Extended" },
    { 511, "Network Authentication Required" },
};
#define NKNOWN ((int)(sizeof(known) / sizeof(known[0])))

static void test_known(void)
{
    int i, ok = 1;

    for (i = 0; i < NKNOWN; i++)
        ok = reason_is(known[i].status, known[i].phrase) && ok;
    test_cond("every registered status", ok);
    test_cond("429", reason_is(429, "Too Many Requests"));
    test_cond("first", reason_is(100, "Continue"));
    test_cond("last", reason_is(511, "Network Authentication Required"));
}

/* Every code in 0..1000 not in the list above is NULL. */
static void test_unknown(void)
{
    int s, i, ok = 1;

    for (s = -5; s <= 1000; s++) {
        int listed = 0;

        for (i = 0; i < NKNOWN; i++)
            listed = listed || known[i].status == s;
        if (!listed && sx_http_reason(s) != NULL) {
            printf("  %d -> %s\n", s, sx_http_reason(s));
            ok = 0;
        }
    }
    test_cond("unregistered codes give NULL", ok);
    test_cond("418 (Unused)", sx_http_reason(418) == NULL);
    test_cond("306 (Unused)", sx_http_reason(306) == NULL);
    test_cond("INT_MIN", sx_http_reason(-2147483647 - 1) == NULL);
    test_cond("INT_MAX", sx_http_reason(2147483647) == NULL);
}

int main(void)
{
    test_known();
    test_unknown();
    return test_report();
}
