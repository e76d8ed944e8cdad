/* conf/file.c: reading whole small files, every way it can go wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf/file.h"

static void write_tmp(char path[64], const char *text, size_t len)
{
    strcpy(path, "/tmp/vole-test-file-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_reads_whole_file(void **state)
{
    char path[64], *buf;
    size_t len;
    int e;
    /* more than the first 4096-byte block, so the buffer grows */
    size_t n = 10000;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    write_tmp(path, text, n);
    assert_int_equal(vole_file_read(path, n, &buf, &len, &e), VOLE_FILE_OK);
    assert_int_equal(len, n);
    assert_memory_equal(buf, text, n);
    assert_int_equal(buf[n], '\0');
    vole_file_free(buf, len);
    /* one byte over the limit */
    assert_int_equal(vole_file_read(path, n - 1, &buf, &len, &e), VOLE_FILE_TOO_LARGE);
    assert_null(buf);
    assert_int_equal(len, 0);
    unlink(path);
    free(text);
}

static void test_empty_file(void **state)
{
    char path[64], *buf;
    size_t len = 99;
    int e;
    write_tmp(path, "", 0);
    assert_int_equal(vole_file_read(path, 16, &buf, &len, &e), VOLE_FILE_OK);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    vole_file_free(buf, len);
    unlink(path);
}

static void test_failures(void **state)
{
    char *buf = (char *)1;
    size_t len;
    int e;
    assert_int_equal(vole_file_read("/nonexistent/vole", 16, &buf, &len, &e), VOLE_FILE_OPEN);
    assert_int_equal(e, ENOENT);
    assert_null(buf);
    assert_int_equal(vole_file_read("/", 16, &buf, &len, &e), VOLE_FILE_READ);
    assert_int_equal(e, EISDIR);
    assert_null(buf);
    vole_file_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_whole_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
