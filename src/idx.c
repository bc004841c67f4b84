/* idx.c - placeholder, being written */
#include "traind/idx.h"
