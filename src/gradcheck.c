/* gradcheck.c - placeholder, being written */
#include "traind/gradcheck.h"
