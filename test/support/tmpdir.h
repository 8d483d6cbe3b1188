/* test/support/tmpdir.h — temporary folders for tests that lay out plugin
 * directories or recipe files; removed by tmp_cleanup (or left in /tmp when a
 * test fails before it). */
#ifndef CV_TEST_TMPDIR_H
#define CV_TEST_TMPDIR_H

/* a new empty folder under $TMPDIR (or /tmp); the string lives until tmp_cleanup */
const char *tmp_dir_new(void);
/* copy $CVNETS_BUILD/test/fixtures/<fixture>.so to <dir>/cvnets-transform-<as>.so */
void tmp_put_fixture(const char *dir, const char *fixture, const char *as);
/* copy it to <dir>/<file_name> */
void tmp_put_fixture_as(const char *dir, const char *fixture, const char *file_name);
/* write text to <dir>/<name>; returns the full path (static, until tmp_cleanup) */
const char *tmp_write(const char *dir, const char *name, const char *text);
/* write bytes */
const char *tmp_write_bytes(const char *dir, const char *name, const void *data, unsigned long n);
/* remove every folder made by tmp_dir_new */
void tmp_cleanup(void);

#endif
