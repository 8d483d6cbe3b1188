/* core/cli_elf.c — reads the dynamic symbol table of a plugin file (ELF64, the
 * only format cvnets builds) for `check-plugin`: which symbols it exports and
 * which it needs, so hidden visibility and "no host symbols" can be checked
 * without binutils. */
#include "cli_elf.h"
#include "host.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0, got;
    do {
        if (len == cap) {
            size_t nc = cap ? 2 * cap : 1 << 16;
            if (nc > ((size_t)1 << 31)) break; /* 2 GiB: not a plugin */
            unsigned char *b = realloc(buf, nc);
            if (!b) break;
            buf = b;
            cap = nc;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    *n = len;
    return buf;
}

int cv_elf_symbols(const char *path, cv_elf_symbol_fn fn, void *user, cv_error *err) {
    size_t n = 0;
    unsigned char *b = read_all(path, &n);
    if (!b) return cv_set_error(err, CV_ERR_IO, "cannot read %s", path);
    int rc = CV_OK;
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
    if (n < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) {
        rc = cv_set_error(err, CV_ERR_INVALID, "%s is not a 64-bit ELF file", path);
        goto done;
    }
    if (eh->e_shoff == 0 || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > n ||
        (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > n - eh->e_shoff) {
        rc = cv_set_error(err, CV_ERR_INVALID, "%s: malformed section table", path);
        goto done;
    }
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
    int found = 0;
    for (int i = 0; i < eh->e_shnum && rc == CV_OK; i++) {
        if (sh[i].sh_type != SHT_DYNSYM) continue;
        found = 1;
        if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_offset > n || sh[i].sh_size > n - sh[i].sh_offset) {
            rc = cv_set_error(err, CV_ERR_INVALID, "%s: malformed .dynsym", path);
            break;
        }
        const Elf64_Shdr *str = &sh[sh[i].sh_link];
        if (str->sh_offset > n || str->sh_size > n - str->sh_offset) {
            rc = cv_set_error(err, CV_ERR_INVALID, "%s: malformed .dynstr", path);
            break;
        }
        const Elf64_Sym *sym = (const Elf64_Sym *)(b + sh[i].sh_offset);
        size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
        const char *names = (const char *)(b + str->sh_offset);
        for (size_t s = 1; s < count; s++) {
            if (sym[s].st_name >= str->sh_size || !memchr(names + sym[s].st_name, 0, str->sh_size - sym[s].st_name)) continue;
            int bind = ELF64_ST_BIND(sym[s].st_info), type = ELF64_ST_TYPE(sym[s].st_info);
            if (bind != STB_GLOBAL && bind != STB_WEAK) continue;
            if (type == STT_SECTION || type == STT_FILE) continue;
            fn(user, names + sym[s].st_name, sym[s].st_shndx != SHN_UNDEF);
        }
    }
    if (rc == CV_OK && !found) rc = cv_set_error(err, CV_ERR_INVALID, "%s has no dynamic symbol table", path);
done:
    free(b);
    return rc;
}
