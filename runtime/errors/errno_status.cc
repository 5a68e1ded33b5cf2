#include "runtime/errors/errno_status.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace tend::errors {

absl::Status FromErrno(absl::string_view call, int error) {
  std::string message = absl::StrCat(call, ": ", strerror(error));
  switch (error) {
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    case EINTR:
      return absl::UnavailableError(message);
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EEXIST:
    case EADDRINUSE:
      return absl::AlreadyExistsError(message);
    case EINVAL:
    case E2BIG:
    case ENAMETOOLONG:
    case ENOEXEC:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

bool IsTransient(const absl::Status& status) {
  return absl::IsResourceExhausted(status) || absl::IsUnavailable(status);
}

}  // namespace tend::errors
