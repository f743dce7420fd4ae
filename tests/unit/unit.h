/* SPDX-License-Identifier: ISC */
/* unit.h — the one main() of the Check unit tests.
 *
 *   UNIT_MAIN("reply", single_line, multi_line, ...)
 *       main(): a suite of one test case "core" holding these tests.
 *   UNIT_CASE(suite, "name", test, ...)   add a test case to a suite; it
 *       returns the case (tcase_set_timeout(UNIT_CASE(...), 60))
 *   unit_run(suite, UNIT_FORK or UNIT_NOFORK)
 *       run a suite built by hand (more cases, set-up before the run) and
 *       return main()'s exit status. */
#ifndef ETP_TESTS_UNIT_H
#define ETP_TESTS_UNIT_H

#include <check.h>
#include <stdlib.h>

enum { UNIT_FORK = 0, UNIT_NOFORK = 1 };

static inline TCase *unit_case(Suite *s, const char *name, const TTest *const *tests)
{
    TCase *tc = tcase_create(name);
    for (; *tests; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return tc;
}

static inline int unit_run(Suite *s, int nofork)
{
    SRunner *sr = srunner_create(s);
    if (nofork)
        srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define UNIT_CASE(s, name, ...) unit_case((s), (name), (const TTest *const[]){ __VA_ARGS__, NULL })

#define UNIT_MAIN(name, ...)                                                                    \
    int main(void)                                                                              \
    {                                                                                           \
        Suite *unit_suite_ = suite_create(name);                                                \
        UNIT_CASE(unit_suite_, "core", __VA_ARGS__);                                            \
        return unit_run(unit_suite_, UNIT_FORK);                                                \
    }

#endif
