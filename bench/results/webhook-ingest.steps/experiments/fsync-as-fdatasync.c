#define _GNU_SOURCE
#include <unistd.h>
int fsync(int fd) { return fdatasync(fd); }
