/* core/recipe.c — reading a recipe file with libinih, line by line through our
 * own reader so every key keeps its line number and over-long lines, NUL bytes
 * and non-UTF-8 text are reported instead of silently mis-parsed; --set
 * overrides; the accessors of recipe.h.  Validation is in recipe_validate.c. */
#include "recipe_impl.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- problems ----------------------------------------------------------------------- */
void rc_problem(rc_problems *p, int status, const char *fmt, ...) {
    char line[CV_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (p->status == CV_OK) p->status = status;
    p->n++;
    size_t len = strlen(line);
    /* keep room for the "and N more" tail */
    if (p->dropped || p->used + len + 2 > sizeof p->text - 48) {
        p->dropped++;
        return;
    }
    if (p->used) p->text[p->used++] = '\n';
    memcpy(p->text + p->used, line, len + 1);
    p->used += len;
}

static int problems_to_error(rc_problems *p, cv_error *err) {
    if (p->dropped && p->used + 48 < sizeof p->text)
        snprintf(p->text + p->used, sizeof p->text - p->used, "\n… and %d more problem%s", p->dropped,
                 p->dropped == 1 ? "" : "s");
    return cv_set_error(err, p->status, "%s", p->text);
}

/* ---- input ------------------------------------------------------------------------------- */
int rc_add_entry(rc_input *in, const char *section, const char *key, const char *value, int line, const char *where) {
    if (in->nentries == in->cap) {
        int cap = in->cap ? 2 * in->cap : 64;
        rc_entry *e = cv_alloc_array((size_t)cap, sizeof *e);
        if (!e) return CV_ERR_NOMEM;
        if (in->nentries) memcpy(e, in->entries, (size_t)in->nentries * sizeof *e);
        cv_free(in->entries);
        in->entries = e;
        in->cap = cap;
    }
    rc_entry *e = &in->entries[in->nentries];
    e->section = cv_strdup(section);
    e->key = cv_strdup(key);
    e->value = cv_strdup(value);
    e->where = cv_strdup(where);
    e->line = line;
    if (!e->section || !e->key || !e->value || !e->where) {
        cv_free(e->section);
        cv_free(e->key);
        cv_free(e->value);
        cv_free(e->where);
        return CV_ERR_NOMEM;
    }
    in->nentries++;
    return CV_OK;
}

static void input_free(rc_input *in) {
    for (int i = 0; i < in->nentries; i++) {
        cv_free(in->entries[i].section);
        cv_free(in->entries[i].key);
        cv_free(in->entries[i].value);
        cv_free(in->entries[i].where);
    }
    for (int i = 0; i < in->nheaders; i++) cv_free(in->headers[i].name);
    cv_free(in->entries);
    cv_free(in->headers);
}

/* ---- the line reader inih calls ------------------------------------------------------------ */
typedef struct reader_state {
    FILE *f;
    const char *path;
    int line;
    int indented;          /* current line starts with blank: inih treats it as a continuation */
    int rejected_line;     /* last line we replaced by an empty one (already reported) */
    char *buf;
    size_t cap;
    rc_input *in;
    rc_problems *pb;
} reader_state;

/* length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid */
static size_t utf8_len(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && s[0] == 0xE0 && s[1] < 0xA0) return 0;              /* overlong */
    if (len == 3 && s[0] == 0xED && s[1] >= 0xA0) return 0;             /* surrogates */
    if (len == 4 && s[0] == 0xF0 && s[1] < 0x90) return 0;              /* overlong */
    if (len == 4 && s[0] == 0xF4 && s[1] >= 0x90) return 0;             /* > U+10FFFF */
    return len;
}

static void note_header(reader_state *s, const char *line, size_t len) {
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i >= len || line[i] != '[') return;
    const char *close = memchr(line + i, ']', len - i);
    if (!close) return; /* inih reports it */
    const char *a = line + i + 1, *b = close;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    rc_input *in = s->in;
    if (in->nheaders == in->capheaders) {
        int cap = in->capheaders ? 2 * in->capheaders : 16;
        rc_header *h = cv_alloc_array((size_t)cap, sizeof *h);
        if (!h) return;
        if (in->nheaders) memcpy(h, in->headers, (size_t)in->nheaders * sizeof *h);
        cv_free(in->headers);
        in->headers = h;
        in->capheaders = cap;
    }
    char *name = cv_alloc((size_t)(b - a) + 1);
    if (!name) return;
    memcpy(name, a, (size_t)(b - a));
    name[b - a] = 0;
    in->headers[in->nheaders].name = name;
    in->headers[in->nheaders].line = s->line;
    in->nheaders++;
}

static char *read_line(char *str, int num, void *stream) {
    reader_state *s = stream;
    size_t len = 0;
    int c, got = 0;
    while ((c = getc(s->f)) != EOF) {
        got = 1;
        if (len + 2 > s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 256;
            char *b = cv_alloc(cap);
            if (!b) return NULL;
            if (len) memcpy(b, s->buf, len);
            cv_free(s->buf);
            s->buf = b;
            s->cap = cap;
        }
        s->buf[len++] = (char)c;
        if (c == '\n') break;
    }
    if (!got) return NULL;
    s->buf[len] = 0;
    s->line++;
    size_t content = len;
    if (content && s->buf[content - 1] == '\n') content--;
    if (content && s->buf[content - 1] == '\r') content--;
    const char *problem = NULL;
    char why[200];
    if (memchr(s->buf, 0, content)) {
        problem = "contains a NUL byte (recipes are UTF-8 text)";
    } else {
        for (size_t i = 0; i < content;) {
            size_t n = utf8_len((const unsigned char *)s->buf + i, content - i);
            if (!n) {
                snprintf(why, sizeof why, "byte 0x%02X at column %zu is not valid UTF-8 (recipes are UTF-8 text)",
                         (unsigned char)s->buf[i], i + 1);
                problem = why;
                break;
            }
            i += n;
        }
    }
    /* inih reads each line into a num-byte buffer: a longer line would be split
     * and its tail parsed as a line of its own */
    if (!problem && num > 2 && content + 2 > (size_t)num) {
        snprintf(why, sizeof why, "line is %zu characters long; libinih reads at most %d per line (INI_MAX_LINE %d)",
                 content, num - 2, num);
        problem = why;
    }
    if (problem) {
        rc_problem(s->pb, CV_ERR_INVALID, "%s:%d: %s", s->path, s->line, problem);
        s->rejected_line = s->line;
        s->indented = 0;
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    s->indented = content && (s->buf[0] == ' ' || s->buf[0] == '\t');
    /* libinih skips a UTF-8 byte order mark on the first line; so do we */
    size_t bom = s->line == 1 && content >= 3 && memcmp(s->buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    note_header(s, s->buf + bom, content - bom);
    memcpy(str, s->buf, len + 1);
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value) {
    reader_state *s = user;
    rc_input *in = s->in;
    rc_entry *last = in->nentries ? &in->entries[in->nentries - 1] : NULL;
    /* an indented line after "key = value" continues the value (inih multiline) */
    if (s->indented && last && last->line && last->line < s->line && strcmp(last->section, section) == 0 &&
        strcmp(last->key, name) == 0) {
        size_t a = strlen(last->value), b = strlen(value);
        char *v = cv_alloc(a + b + 2);
        if (!v) return 0;
        memcpy(v, last->value, a);
        v[a] = ' ';
        memcpy(v + a + 1, value, b + 1);
        cv_free(last->value);
        last->value = v;
        return 1;
    }
    if (!*section) {
        rc_problem(s->pb, CV_ERR_INVALID, "%s:%d: key '%s' comes before any [section]", s->path, s->line, name);
        return 1;
    }
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", s->path, s->line);
    if (rc_add_entry(in, section, name, value, s->line, where) != CV_OK) return 0;
    return 1;
}

static int read_file(const char *path, rc_input *in, rc_problems *pb, cv_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return cv_set_error(err, CV_ERR_IO, "cannot read recipe %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cv_set_error(err, CV_ERR_IO, "cannot read recipe %s: not a regular file", path);
    }
    reader_state s = { f, path, 0, 0, 0, NULL, 0, in, pb };
    int rc = ini_parse_stream(read_line, &s, on_key, &s);
    int read_error = ferror(f);
    fclose(f);
    cv_free(s.buf);
    if (read_error) return cv_set_error(err, CV_ERR_IO, "cannot read recipe %s: read error", path);
    if (rc == -2) return cv_set_error(err, CV_ERR_NOMEM, "out of memory reading %s", path);
    if (rc > 0 && rc != s.rejected_line) {
        /* inih reports only its first syntax error; ours are already listed */
        int dup = 0;
        for (int i = 0; i < in->nentries; i++) dup |= in->entries[i].line == rc;
        if (!dup)
            rc_problem(pb, CV_ERR_INVALID, "%s:%d: cannot parse this line (expected [section], key = value, or a ; comment)",
                       path, rc);
    }
    return CV_OK;
}

/* "section.key=value": the section is everything before the last '.' of the key part */
static int add_set(rc_input *in, const char *set, rc_problems *pb) {
    const char *eq = strchr(set, '=');
    const char *dot = NULL;
    for (const char *p = set; eq && p < eq; p++)
        if (*p == '.') dot = p;
    char where[1200];
    snprintf(where, sizeof where, "--set %.1100s", set);
    if (!eq || !dot || dot == set || dot + 1 == eq) {
        rc_problem(pb, CV_ERR_INVALID, "%s: expected section.key=value", where);
        return CV_OK;
    }
    char section[512], key[512];
    size_t sl = (size_t)(dot - set), kl = (size_t)(eq - dot - 1);
    if (sl >= sizeof section || kl >= sizeof key) {
        rc_problem(pb, CV_ERR_INVALID, "%s: section or key too long", where);
        return CV_OK;
    }
    memcpy(section, set, sl);
    section[sl] = 0;
    memcpy(key, dot + 1, kl);
    key[kl] = 0;
    return rc_add_entry(in, section, key, eq + 1, 0, where);
}

/* ---- load ------------------------------------------------------------------------------------ */
int cv_recipe_load(cv_ctx *ctx, const char *path, const char *const *sets, int nsets, cv_recipe **out, cv_error *err) {
    *out = NULL;
    if (!path) return cv_set_error(err, CV_ERR_INVALID, "no recipe file given");
    rc_input in = { path, NULL, 0, 0, NULL, 0, 0 };
    rc_problems pb;
    memset(&pb, 0, sizeof pb);
    int rc = read_file(path, &in, &pb, err);
    for (int i = 0; rc == CV_OK && i < nsets; i++) rc = add_set(&in, sets[i], &pb);
    if (rc != CV_OK) {
        input_free(&in);
        return err->status ? err->status : cv_set_error(err, rc, "out of memory reading %s", path);
    }
    cv_recipe *r = cv_alloc_array(1, sizeof *r);
    if (!r) {
        input_free(&in);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    }
    r->path = cv_strdup(path);
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) : 0;
    r->dir = cv_alloc(dl + 2);
    if (r->dir) {
        if (slash) memcpy(r->dir, path, dl ? dl : 1), r->dir[dl ? dl : 1] = 0;
        else strcpy(r->dir, ".");
    }
    rc_validate(ctx, r, &in, &pb);
    input_free(&in);
    if (pb.n) {
        cv_recipe_free(r);
        return problems_to_error(&pb, err);
    }
    if (!r->path || !r->dir) {
        cv_recipe_free(r);
        return cv_set_error(err, CV_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return CV_OK;
}

void cv_recipe_free(cv_recipe *r) {
    if (!r) return;
    for (int i = 0; i < r->nsecs; i++) {
        cv_free(r->secs[i].name);
        cv_free(r->secs[i].plugin);
        cv_options_free(r->secs[i].opts);
    }
    cv_free(r->secs);
    for (int l = 0; l < RC_NLISTS; l++) {
        for (int i = 0; i < r->nlist[l]; i++) cv_free(r->lists[l][i]);
        cv_free(r->lists[l]);
    }
    cv_free(r->path);
    cv_free(r->dir);
    cv_free(r->out_dir);
    cv_free(r);
}

/* ---- accessors ----------------------------------------------------------------------------------- */
rc_section *rc_section_get(const cv_recipe *r, const char *name) {
    for (int i = 0; r && name && i < r->nsecs; i++)
        if (strcmp(r->secs[i].name, name) == 0) return &r->secs[i];
    return NULL;
}

const char *cv_recipe_path(const cv_recipe *r) { return r->path; }
const char *cv_recipe_dir(const cv_recipe *r) { return r->dir; }

const char *cv_recipe_out_dir(const cv_recipe *r) {
    const char *o = cv_recipe_str(r, "run", "out_dir");
    if (o) return o;
    if (!r->out_dir) {
        const char *base = strrchr(r->path, '/');
        base = base ? base + 1 : r->path;
        size_t n = strlen(base);
        if (n > 4 && strcmp(base + n - 4, ".ini") == 0) n -= 4;
        cv_recipe *m = (cv_recipe *)r; /* lazily cached */
        m->out_dir = cv_alloc(n + 6);
        if (!m->out_dir) return "runs/recipe";
        snprintf(m->out_dir, n + 6, "runs/%.*s", (int)n, base);
    }
    return r->out_dir;
}

const cv_options *cv_recipe_options(const cv_recipe *r, const char *section) {
    rc_section *s = rc_section_get(r, section);
    return s ? s->opts : NULL;
}

const char *cv_recipe_component(const cv_recipe *r, const char *section) {
    rc_section *s = rc_section_get(r, section);
    return s ? s->plugin : NULL;
}

const cv_plugin *cv_recipe_plugin(const cv_recipe *r, const char *section) {
    rc_section *s = rc_section_get(r, section);
    return s ? s->p : NULL;
}

int cv_recipe_list(const cv_recipe *r, const char *section, const char *key, const char *const **names) {
    int l = -1;
    int train = key && strcmp(key, "train") == 0, val = key && strcmp(key, "val") == 0;
    if (section && strcmp(section, "transforms") == 0) l = train ? RC_LIST_TRANSFORMS_TRAIN : val ? RC_LIST_TRANSFORMS_VAL : -1;
    if (section && strcmp(section, "metrics") == 0) l = train ? RC_LIST_METRICS_TRAIN : val ? RC_LIST_METRICS_VAL : -1;
    if (l < 0) {
        *names = NULL;
        return 0;
    }
    *names = (const char *const *)r->lists[l];
    return r->nlist[l];
}

static const cv_value *host_value(const cv_recipe *r, const char *section, const char *key) {
    return cv_options_get(cv_recipe_options(r, section), key);
}
int64_t cv_recipe_int(const cv_recipe *r, const char *section, const char *key) {
    const cv_value *v = host_value(r, section, key);
    return v && v->is_set ? v->i : 0;
}
double cv_recipe_float(const cv_recipe *r, const char *section, const char *key) {
    const cv_value *v = host_value(r, section, key);
    return v && v->is_set ? v->f : 0.0;
}
const char *cv_recipe_str(const cv_recipe *r, const char *section, const char *key) {
    const cv_value *v = host_value(r, section, key);
    return v && v->is_set ? v->s : NULL;
}

int cv_recipe_section_count(const cv_recipe *r) { return r ? r->nsecs : 0; }
const char *cv_recipe_section_name(const cv_recipe *r, int i) {
    return r && i >= 0 && i < r->nsecs ? r->secs[i].name : NULL;
}
