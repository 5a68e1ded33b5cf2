#include "runtime/cluster/ipc_channel.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "runtime/errors/errno_status.h"

namespace tend::cluster {
namespace {

constexpr int kMaxFdsPerRead = 16;
// Reads per call: a worker that writes without pause cannot hold the event loop.
constexpr int kMaxReadsPerCall = 16;

}  // namespace

absl::StatusOr<std::unique_ptr<IpcChannel>> IpcChannel::Create() {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return errors::FromErrno("socketpair");
  }
  UniqueFd ours(ends[0]), theirs(ends[1]);
  if (fcntl(ours.get(), F_SETFL, O_NONBLOCK) != 0) {
    return errors::FromErrno("fcntl(O_NONBLOCK)");
  }
  return std::unique_ptr<IpcChannel>(new IpcChannel(std::move(ours), std::move(theirs)));
}

IpcChannel::ReadStatus IpcChannel::Read(std::vector<std::string>* messages, int* stray_fds) {
  char buffer[16384];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRead)];
  for (int reads = 0; reads < kMaxReadsPerCall; ++reads) {
    iovec iov{buffer, sizeof buffer};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return errno == EAGAIN || errno == EINTR ? ReadStatus::kOpen : ReadStatus::kClosed;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (int i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
        ++*stray_fds;
      }
    }
    if (n == 0) return ReadStatus::kClosed;
    input_.append(buffer, n);
    size_t start = 0, newline;
    while ((newline = input_.find('\n', start)) != std::string::npos) {
      if (newline - start > kMaxMessageBytes) return ReadStatus::kOversized;
      messages->push_back(input_.substr(start, newline - start));
      start = newline + 1;
    }
    input_.erase(0, start);
    if (input_.size() > kMaxMessageBytes) return ReadStatus::kOversized;
  }
  return ReadStatus::kOpen;
}

bool IpcChannel::Send(const std::string& message, int pass_fd) {
  if (queued_bytes_ + message.size() + 1 > kMaxQueuedBytes) return false;
  if (pass_fd >= 0 && queued_fds_ >= kMaxQueuedFds) return false;
  UniqueFd fd(pass_fd >= 0 ? fcntl(pass_fd, F_DUPFD_CLOEXEC, 0) : -1);
  if (pass_fd >= 0 && !fd) return false;
  queued_fds_ += fd.valid();
  queue_.push_back({message + "\n", std::move(fd), 0});
  queued_bytes_ += message.size() + 1;
  return true;
}

void IpcChannel::HandleAcknowledged() { awaiting_ack_ = false; }

bool IpcChannel::Flush() {
  while (!queue_.empty() && !awaiting_ack_) {
    Outgoing& out = queue_.front();
    iovec iov{out.bytes.data() + out.sent, out.bytes.size() - out.sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (out.fd && out.sent == 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      int fd = out.fd.get();
      memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n = sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (n < 0) return errno != EAGAIN && errno != EINTR;  // a broken channel shows as EOF
    out.sent += n;
    if (out.sent < out.bytes.size()) return false;
    queued_bytes_ -= out.bytes.size();
    if (out.fd) {
      awaiting_ack_ = true;
      --queued_fds_;
    }
    queue_.pop_front();
  }
  return true;
}

}  // namespace tend::cluster
