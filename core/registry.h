/* core/registry.h — the plugin loader and the registry of component descriptors.
 *
 * A plugin file is cvnets-<kind>-<name>.so.  Loading dlopens it (RTLD_NOW |
 * RTLD_LOCAL, never closed afterwards), calls cvnets_plugin_entry_v1 with the
 * host table, and checks each registered descriptor: ABI version, struct sizes
 * (a larger struct is accepted only when its unknown tail is zero), kind, name
 * matching the file name, a valid option schema.  A file that fails registers
 * nothing.  The search path for loading by name is: directories added with
 * cv_registry_add_dirs (--plugin-path), then $CVNETS_PLUGIN_PATH (ignored for
 * setuid programs), then $ORIGIN/../lib/cvnets/plugins of the executable.  The
 * working directory is never searched. */
#ifndef CV_CORE_REGISTRY_H
#define CV_CORE_REGISTRY_H

#include "host.h"

/* One registered component.  desc is the host's normalised copy: fields the
 * plugin's (older) struct lacked are zero, options points to a host-owned copy
 * of the schema with stride sizeof(cv_option_desc). */
typedef struct cv_plugin {
    cv_component_desc desc;
    const char *file;      /* real path of the .so */
} cv_plugin;

cv_registry *cv_registry_create(void);
void cv_registry_destroy(cv_registry *r);

/* cv_host.register_component: valid only while a plugin's entry runs. */
int cv_registry_register(void *host_ctx, const cv_component_desc *desc, cv_error *err);

/* Add search directories (':'-separated list, like PATH) ahead of the
 * environment and the executable's directory.  Empty entries are ignored. */
int cv_registry_add_dirs(cv_registry *r, const char *dirs);
/* Use $CVNETS_PLUGIN_PATH and the executable's plugin folder (default 1, 1);
 * tests switch them off to search only their own directories. */
void cv_registry_use_defaults(cv_registry *r, int use_env, int use_exe_dir);
/* The directories searched, in order (only ones that exist); valid until the
 * next call. */
int cv_registry_search_dirs(cv_registry *r, const char ***dirs);

/* Load one file.  A file already loaded (same real path) is a no-op. */
int cv_registry_load_file(cv_ctx *ctx, const char *path, cv_error *err);
/* Same, without requiring the cvnets-<kind>-<name>.so file name (check-plugin
 * reports the name mismatch itself). */
int cv_registry_load_file_any_name(cv_ctx *ctx, const char *path, cv_error *err);

/* Find a loaded component; NULL when none. */
const cv_plugin *cv_registry_find(const cv_registry *r, int kind, const char *name);
/* Find or load cvnets-<kind>-<name>.so from the search path.  When missing, the
 * error lists the directories searched and the names of that kind found there. */
int cv_registry_load(cv_ctx *ctx, int kind, const char *name, const cv_plugin **out, cv_error *err);

/* Load every cvnets-*.so in the search path, in directory order then by name;
 * the first file found for a name wins (later ones are reported as shadowed).
 * Failures are passed to on_error (may be NULL) and do not stop the scan.
 * Returns the number of files that failed. */
typedef void (*cv_registry_error_fn)(void *user, const char *file, const cv_error *err);
int cv_registry_load_all(cv_ctx *ctx, cv_registry_error_fn on_error, void *user);

/* The functions a kind's vtable must provide (model forward, dataset get, …);
 * CV_ERR_INVALID naming the first missing one.  The loader does not insist (a
 * partial plugin still shows in `plugins` and `help`); check-plugin and code
 * about to call a vtable do. */
int cv_component_check_vtable(const cv_component_desc *d, cv_error *err);

int cv_registry_count(const cv_registry *r);
const cv_plugin *cv_registry_at(const cv_registry *r, int i);

/* Parse "cvnets-<kind>-<name>.so" (the base name of path): kind and name into
 * the buffers; 0 when the name does not follow the rule. */
int cv_plugin_file_parse(const char *path, int *kind, char *name, size_t name_size);
/* 1 when name uses only [a-z0-9_] and is non-empty */
int cv_plugin_name_ok(const char *name);

#endif
