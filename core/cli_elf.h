/* core/cli_elf.h — the dynamic symbols of an ELF64 shared object (check-plugin). */
#ifndef CV_CORE_CLI_ELF_H
#define CV_CORE_CLI_ELF_H

#include <cvnets/cvnets.h>

/* called for each global or weak dynamic symbol: defined = 1 for exports, 0 for imports */
typedef void (*cv_elf_symbol_fn)(void *user, const char *name, int defined);
int cv_elf_symbols(const char *path, cv_elf_symbol_fn fn, void *user, cv_error *err);

#endif
