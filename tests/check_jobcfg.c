/* check_jobcfg.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_jobcfg(void)
{
	return suite_create("jobcfg");
}
