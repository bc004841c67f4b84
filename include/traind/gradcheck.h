/* gradcheck.h - placeholder */
#ifndef TRAIND_GRADCHECK_H
#define TRAIND_GRADCHECK_H
#endif
