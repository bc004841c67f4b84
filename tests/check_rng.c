/* check_rng.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_rng(void)
{
	return suite_create("rng");
}
