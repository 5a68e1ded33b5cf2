#include "runtime/errors/errno_status.h"

#include "gtest/gtest.h"

namespace tend::errors {
namespace {

TEST(FromErrnoTest, ShortagesAreTransientAndTheRestPermanent) {
  for (int transient : {EAGAIN, ENOMEM, EMFILE, ENFILE, ENOBUFS, EINTR}) {
    EXPECT_TRUE(IsTransient(FromErrno("clone", transient))) << transient;
  }
  for (int permanent : {ENOENT, EACCES, EPERM, EINVAL, ENOEXEC, EIO, EADDRINUSE}) {
    EXPECT_FALSE(IsTransient(FromErrno("execve", permanent))) << permanent;
  }
  EXPECT_FALSE(IsTransient(absl::OkStatus()));
}

TEST(FromErrnoTest, NamesTheCallAndTheErrorWithOneCodePerErrno) {
  absl::Status status = FromErrno("clone", EAGAIN);
  EXPECT_EQ(status.message(), "clone: Resource temporarily unavailable");
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FromErrno("open", ENOENT).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FromErrno("open", EACCES).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(FromErrno("bind", EADDRINUSE).code(), absl::StatusCode::kAlreadyExists);
  errno = EMFILE;
  EXPECT_EQ(FromErrno("accept4").code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace tend::errors
