/* image.c - placeholder, being written */
#include "traind/image.h"
