#ifndef PAIRRM_KERNEL_SELFTEST_MODULE_H
#define PAIRRM_KERNEL_SELFTEST_MODULE_H
#include "../../../Tools/kernels/kernel_selftest.h"
#endif
