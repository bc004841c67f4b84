/* pool.c - placeholder, being written */
#include "traind/pool.h"
