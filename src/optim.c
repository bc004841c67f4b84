/* optim.c - placeholder, being written */
#include "traind/optim.h"
