/* Launch tokens: 128 random bits as hex, matched only whole, and taken
 * out of the environment (and wiped there) by the executor. That they
 * reach executors through the environment, and that the driver refuses a
 * registration without one, is tests/integration/test_driver_protocol.py. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"

Test(launch_token, fresh_tokens_are_hex_and_differ)
{
    char a[MS_AUTH_TOKEN_LEN + 1], b[MS_AUTH_TOKEN_LEN + 1];
    cr_assert_eq(ms_auth_token_new(a, NULL), 0);
    cr_assert_eq(ms_auth_token_new(b, NULL), 0);
    cr_assert_eq(strlen(a), MS_AUTH_TOKEN_LEN);
    cr_assert_eq(strspn(a, "0123456789abcdef"), MS_AUTH_TOKEN_LEN);
    cr_assert_str_neq(a, b);
}

Test(launch_token, only_the_whole_token_matches)
{
    char t[MS_AUTH_TOKEN_LEN + 1];
    cr_assert_eq(ms_auth_token_new(t, NULL), 0);
    cr_assert(ms_auth_token_eq(t, t, MS_AUTH_TOKEN_LEN));
    /* A prefix, a longer string, one digit changed, a spent token. */
    cr_assert_not(ms_auth_token_eq(t, t, MS_AUTH_TOKEN_LEN - 1));
    char longer[MS_AUTH_TOKEN_LEN + 2];
    snprintf(longer, sizeof longer, "%s0", t);
    cr_assert_not(ms_auth_token_eq(t, longer, sizeof longer - 1));
    char other[MS_AUTH_TOKEN_LEN + 1];
    memcpy(other, t, sizeof other);
    other[7] = other[7] == '0' ? '1' : '0';
    cr_assert_not(ms_auth_token_eq(t, other, MS_AUTH_TOKEN_LEN));
    char spent[MS_AUTH_TOKEN_LEN + 1] = "";
    cr_assert_not(ms_auth_token_eq(spent, t, MS_AUTH_TOKEN_LEN));
}

Test(launch_token, take_moves_it_out_of_the_environment)
{
    char t[MS_AUTH_TOKEN_LEN + 1], got[MS_AUTH_TOKEN_LEN + 1];
    cr_assert_eq(ms_auth_token_new(t, NULL), 0);
    setenv(MS_AUTH_TOKEN_ENV, t, 1);
    char *where = getenv(MS_AUTH_TOKEN_ENV);
    cr_assert(ms_auth_token_take(got));
    cr_assert_str_eq(got, t);
    cr_assert_null(getenv(MS_AUTH_TOKEN_ENV));
    /* The bytes it was read from are wiped, not just unlinked. */
    cr_assert_eq(where[0], '\0');
    cr_assert_not(ms_auth_token_take(got));
    setenv(MS_AUTH_TOKEN_ENV, "not a token", 1);
    cr_assert_not(ms_auth_token_take(got));
    cr_assert_null(getenv(MS_AUTH_TOKEN_ENV));
}
