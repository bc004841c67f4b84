/* check_digits.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_digits(void)
{
	return suite_create("digits");
}
