/* check_error.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_error(void)
{
	return suite_create("error");
}
