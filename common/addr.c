#include "common/addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int ms_addr_ipv4(const char *name, char *out, size_t size, ms_error_t *err)
{
    struct addrinfo hints = {.ai_family = AF_INET}, *res;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0)
        return ms_error_set(err, MS_ERR_USAGE, "cannot resolve %s: %s", name,
                            gai_strerror(rc));
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, text,
              sizeof text);
    freeaddrinfo(res);
    snprintf(out, size, "%s", text);
    return 0;
}
