/* nn.c - placeholder, being written */
#include "traind/nn.h"
