#pragma once

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tend::errors {

// `call` failed with `error`: "call: strerror(error)", with a code that says what kind of
// failure it is, the same for the same errno everywhere:
//  - ResourceExhausted: the system is short of something now (EAGAIN, ENOMEM, EMFILE,
//    ENFILE, ENOBUFS, ENOSPC for pids or memory): transient, trying later can help;
//  - Unavailable: interrupted (EINTR): transient;
//  - NotFound (ENOENT, ENOTDIR, ELOOP), PermissionDenied (EACCES, EPERM), AlreadyExists
//    (EEXIST, EADDRINUSE), InvalidArgument (EINVAL, E2BIG, ENAMETOOLONG, ENOEXEC),
//    and Internal for the rest: permanent, the same call fails the same way again.
absl::Status FromErrno(absl::string_view call, int error = errno);

// Whether a failure may pass by itself (see FromErrno), so that retrying with a backoff is
// right and giving up for good is not.
bool IsTransient(const absl::Status& status);

}  // namespace tend::errors
