#pragma once

#include <sys/resource.h>

namespace tend::process {

// Raises this process's soft RLIMIT_NOFILE to its hard limit, as Go's runtime does: tend
// holds a descriptor for each connection, shared socket and worker pipe, and a container's
// default soft limit (often 1024) is a denial of service waiting to happen. Returns false
// (and changes nothing) when the limit cannot be read or set.
bool RaiseDescriptorLimit();

// The limit tend was started with, which Spawn gives every child back (programs that use
// select() break above 1024); null until RaiseDescriptorLimit raised it.
const rlimit* InheritedDescriptorLimit();

}  // namespace tend::process
