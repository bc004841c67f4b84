/* check_idx.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_idx(void)
{
	return suite_create("idx");
}
