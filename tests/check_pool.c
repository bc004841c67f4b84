/* check_pool.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_pool(void)
{
	return suite_create("pool");
}
