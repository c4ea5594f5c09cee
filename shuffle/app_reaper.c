/* A small array of (application, last heard): a service holds the files of
 * a handful of applications at a time. */
#include "shuffle/app_reaper.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shuffle/files.h"

#define S_SWEEP_EVERY_MS 1000

typedef struct {
    char id[MS_APP_ID_MAX];
    int64_t seen_ms;
    bool registered;
} s_app_t;

struct ms_app_reaper {
    char *dir;
    FILE *log;
    int64_t timeout_ms, next_sweep_ms;
    s_app_t *apps;
    int napps, cap;
};

ms_app_reaper_t *ms_app_reaper_new(const char *dir, int64_t timeout_ms,
                                   FILE *log)
{
    ms_app_reaper_t *self = calloc(1, sizeof *self);
    if (!self || !(self->dir = strdup(dir))) {
        free(self);
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    self->log = log;
    return self;
}

void ms_app_reaper_destroy(ms_app_reaper_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->apps);
    free((*self_p)->dir);
    free(*self_p);
    *self_p = NULL;
}

static s_app_t *s_find(const ms_app_reaper_t *self, const char *app)
{
    for (int i = 0; i < self->napps; i++)
        if (strcmp(self->apps[i].id, app) == 0) return &self->apps[i];
    return NULL;
}

/* The entry of app, added (heard from at now_ms) if new; NULL when out of
 * memory. */
static s_app_t *s_entry(ms_app_reaper_t *self, const char *app, int64_t now_ms)
{
    s_app_t *a = s_find(self, app);
    if (a) return a;
    if (self->napps == self->cap) {
        int cap = self->cap ? self->cap * 2 : 8;
        s_app_t *apps = realloc(self->apps, (size_t)cap * sizeof *apps);
        if (!apps) return NULL;
        self->apps = apps;
        self->cap = cap;
    }
    /* Whole, so that a slot left by a reaped application does not pass
     * its registration on: an application found on disk is not served
     * until its driver registers it. */
    a = &self->apps[self->napps++];
    *a = (s_app_t){.seen_ms = now_ms, .registered = false};
    snprintf(a->id, sizeof a->id, "%s", app);
    return a;
}

void ms_app_reaper_seen(ms_app_reaper_t *self, const char *app, int64_t now_ms)
{
    s_app_t *a = s_entry(self, app, now_ms);
    if (a) a->seen_ms = now_ms;
}

void ms_app_reaper_register(ms_app_reaper_t *self, const char *app,
                            int64_t now_ms)
{
    s_app_t *a = s_entry(self, app, now_ms);
    if (!a) return;
    a->seen_ms = now_ms;
    a->registered = true;
}

bool ms_app_reaper_registered(const ms_app_reaper_t *self, const char *app)
{
    const s_app_t *a = s_find(self, app);
    return a && a->registered;
}

int ms_app_reaper_count(const ms_app_reaper_t *self)
{
    int n = 0;
    for (int i = 0; i < self->napps; i++)
        n += self->apps[i].registered;
    return n;
}

/* Notes every application that has files in the directory. */
static void s_scan(ms_app_reaper_t *self, int64_t now_ms)
{
    DIR *d = opendir(self->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "shuffle_", 8) != 0) continue;
        const char *id = e->d_name + 8, *end = strchr(id, '_');
        char app[MS_APP_ID_MAX];
        if (!end || end == id || (size_t)(end - id) >= sizeof app) continue;
        memcpy(app, id, (size_t)(end - id));
        app[end - id] = '\0';
        if (ms_shuffle_valid_app_id(app)) s_entry(self, app, now_ms);
    }
    closedir(d);
}

int ms_app_reaper_sweep(ms_app_reaper_t *self, int64_t now_ms)
{
    if (now_ms < self->next_sweep_ms) return 0;
    self->next_sweep_ms = now_ms + S_SWEEP_EVERY_MS;
    s_scan(self, now_ms);
    int total = 0;
    for (int i = 0; i < self->napps;) {
        s_app_t *a = &self->apps[i];
        if (now_ms - a->seen_ms <= self->timeout_ms) {
            i++;
            continue;
        }
        int removed = 0;
        ms_shuffle_remove_app(self->dir, a->id, &removed);
        if (self->log)
            fprintf(self->log,
                    "minispark shuffle-server: no word from application %s "
                    "for %.1f s: %d files removed\n",
                    a->id, (double)(now_ms - a->seen_ms) / 1000.0, removed);
        total += removed;
        *a = self->apps[--self->napps];
    }
    return total;
}
