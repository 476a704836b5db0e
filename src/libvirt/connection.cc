#include "libvirt/connection.h"
