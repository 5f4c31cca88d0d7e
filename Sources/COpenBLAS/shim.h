#pragma once
// Debian's cblas.h lives in the openblas-pthread include dir that pkg-config names; the
// /usr/include one may be netlib's, which lacks openblas_* (see shared notes, pitfall 2).
#include <cblas.h>
