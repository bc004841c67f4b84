/* nn.h - placeholder */
#ifndef TRAIND_NN_H
#define TRAIND_NN_H
#endif
