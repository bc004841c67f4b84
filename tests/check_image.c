/* check_image.c - placeholder, being written */
#include "check_suites.h"

Suite *suite_image(void)
{
	return suite_create("image");
}
