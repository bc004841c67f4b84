/* jobcfg.c - placeholder, being written */
#include "traind/jobcfg.h"
