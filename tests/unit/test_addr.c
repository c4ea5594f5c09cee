/* Names resolved for binds: an address stays itself, localhost (from
 * /etc/hosts, no network) becomes 127.0.0.1. */
#include <criterion/criterion.h>

#include "common/addr.h"

Test(addr, an_address_is_kept_and_localhost_resolved)
{
    char out[64];
    ms_error_t err;
    cr_assert_eq(ms_addr_ipv4("10.213.7.3", out, sizeof out, &err), 0);
    cr_assert_str_eq(out, "10.213.7.3");
    cr_assert_eq(ms_addr_ipv4("localhost", out, sizeof out, &err), 0, "%s",
                 err.msg);
    cr_assert_str_eq(out, "127.0.0.1");
    /* The same buffer may be name and result. */
    char same[64] = "127.0.0.1";
    cr_assert_eq(ms_addr_ipv4(same, same, sizeof same, &err), 0);
    cr_assert_str_eq(same, "127.0.0.1");
}
