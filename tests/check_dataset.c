/* check_dataset.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_dataset(void)
{
	return suite_create("dataset");
}
