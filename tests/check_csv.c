/* check_csv.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_csv(void)
{
	return suite_create("csv");
}
