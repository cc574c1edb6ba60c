#!/bin/sh
# fsx.sh with the kernel's writeback cache off (-o writeback=off): every
# write reaches the daemon as it is made, as passthrough_ll's do.
FSX_MOUNT_OPTS=writeback=off
export FSX_MOUNT_OPTS
exec "${top_srcdir:-$(dirname "$0")/../..}/tests/campaign/fsx.sh" "$@"
