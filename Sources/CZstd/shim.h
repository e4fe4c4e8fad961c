// Debian's libzstd-dev: zstd.h with the stable API plus ZSTD_getFrameContentSize.
#include <zstd.h>
#include <zstd_errors.h>
