/* optim.h - placeholder */
#ifndef TRAIND_OPTIM_H
#define TRAIND_OPTIM_H
#endif
