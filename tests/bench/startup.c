/*
 * startup: the startup reference of `make bench`.  Brings up what any
 * curl-multi + libevent client needs and tears it down; `./stockx -e ''`
 * is timed against it.
 */
#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>

int main(void)
{
    struct event_base *base = NULL;
    CURLM *multi = NULL;
    int rc = 1;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    if (!(multi = curl_multi_init()))
        goto out;
    if (!(base = event_base_new()))
        goto out;
    rc = 0;
out:
    if (rc)
        fputs("startup: init failed\n", stderr);
    if (base)
        event_base_free(base);
    if (multi)
        curl_multi_cleanup(multi);
    curl_global_cleanup();
    return rc;
}
