/* The service's memory of live applications, driven by a clock passed in:
 * files of an application silent for the timeout go, others stay, a
 * sweep runs at most once a second, and files found on disk get the
 * timeout from when they are found. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shuffle/app_reaper.h"

static char s_dir[64];

static void s_touch(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
}

static int s_files_of(const char *app)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "shuffle_%s_", app);
    DIR *d = opendir(s_dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ms-reaper-test-XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    s_touch("shuffle_appA_0_0.data");
    s_touch("shuffle_appA_0_0.index");
    s_touch("shuffle_appB_1_3.data");
    s_touch("shuffle_appB_1_3.index");
    s_touch("unrelated.txt");
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(app_reaper, .init = s_setup, .fini = s_teardown);

Test(app_reaper, silent_applications_lose_their_files_and_others_keep_them)
{
    ms_app_reaper_t *r = ms_app_reaper_new(s_dir, 1000, NULL);
    ms_app_reaper_seen(r, "appA", 0);
    cr_assert_eq(ms_app_reaper_sweep(r, 0), 0); /* finds appB at 0 */
    ms_app_reaper_seen(r, "appA", 900);
    cr_assert_eq(ms_app_reaper_sweep(r, 500), 0);  /* too soon to sweep */
    cr_assert_eq(ms_app_reaper_sweep(r, 1500), 2); /* appB: 1500 ms */
    cr_assert_eq(s_files_of("appB"), 0);
    cr_assert_eq(s_files_of("appA"), 2);
    cr_assert_eq(ms_app_reaper_sweep(r, 1800), 0); /* appA: 900 ms */
    cr_assert_eq(ms_app_reaper_sweep(r, 2600), 2); /* appA: 1700 ms */
    cr_assert_eq(s_files_of("appA"), 0);
    char other[128];
    snprintf(other, sizeof other, "%s/unrelated.txt", s_dir);
    cr_assert_eq(access(other, F_OK), 0, "a file not ours was removed");
    ms_app_reaper_destroy(&r);
    cr_assert_null(r);
}

Test(app_reaper, files_found_late_get_the_whole_timeout)
{
    ms_app_reaper_t *r = ms_app_reaper_new(s_dir, 1000, NULL);
    cr_assert_eq(ms_app_reaper_sweep(r, 5000), 0); /* both found at 5000 */
    cr_assert_eq(ms_app_reaper_sweep(r, 5900), 0); /* too soon */
    cr_assert_eq(ms_app_reaper_sweep(r, 6001), 4);
    ms_app_reaper_destroy(&r);
}

Test(app_reaper, an_application_heard_from_keeps_its_files)
{
    ms_app_reaper_t *r = ms_app_reaper_new(s_dir, 1000, NULL);
    for (int64_t t = 0; t <= 10000; t += 500) {
        ms_app_reaper_seen(r, "appA", t);
        ms_app_reaper_seen(r, "appB", t);
        cr_assert_eq(ms_app_reaper_sweep(r, t), 0, "at %lld", (long long)t);
    }
    cr_assert_eq(s_files_of("appA") + s_files_of("appB"), 4);
    ms_app_reaper_destroy(&r);
}

Test(app_reaper, files_found_on_disk_are_not_registered_until_their_driver_says)
{
    ms_app_reaper_t *r = ms_app_reaper_new(s_dir, 1000, NULL);
    ms_app_reaper_seen(r, "appA", 0);
    ms_app_reaper_seen(r, "appB", 0);
    ms_app_reaper_register(r, "appX", 0);
    ms_app_reaper_register(r, "appY", 0);
    /* appX goes silent and is forgotten; the slot it leaves behind must
     * not lend its registration to the next application found on disk. */
    for (int64_t t = 1500; t <= 2600; t += 1100) {
        ms_app_reaper_seen(r, "appA", t);
        ms_app_reaper_seen(r, "appB", t);
        ms_app_reaper_register(r, "appY", t);
        cr_assert_eq(ms_app_reaper_sweep(r, t), 0);
        s_touch("shuffle_appC_0_0.data");
    }
    cr_assert_not(ms_app_reaper_registered(r, "appX"));
    cr_assert_not(ms_app_reaper_registered(r, "appC"),
                  "an application found only on disk counts as registered");
    cr_assert_not(ms_app_reaper_registered(r, "appA"),
                  "a fetch (seen) must not register an application");
    ms_app_reaper_register(r, "appC", 2700);
    cr_assert(ms_app_reaper_registered(r, "appC"));
    cr_assert(ms_app_reaper_registered(r, "appY"));
    ms_app_reaper_destroy(&r);
}
