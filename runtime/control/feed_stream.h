#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "runtime/control/stream_limit.h"
#include "runtime/loop/cross_thread.h"

namespace tend::control {

// What a stream does when its client reads slower than messages come: ends (events: a
// client must not miss one unknowingly), or drops the message (log lines: the next one
// says how many were missed).
enum class Overflow { kEnd, kDrop };

// What the loop's thread and gRPC's threads share about one stream. Reactor calls are made
// outside the lock: gRPC may run a reaction inline, on the calling thread.
template <typename Message>
class Outbox {
 public:
  using Reactor = grpc::ServerWriteReactor<Message>;
  // `what` names the messages in the error that ends a stream that fell behind.
  Outbox(Reactor* reactor, QueueBounds bounds, Overflow overflow, std::string what)
      : reactor_(reactor), bounds_(bounds), overflow_(overflow), what_(std::move(what)) {}
  ~Outbox() {  // what the client never took
    queued_bytes_ = 0;
    GiveBack();
  }

  // Queues a message to write; `last`: finish with OK once it is written. False when it was
  // not queued: the stream is ending, or is full (kDrop: dropped; kEnd: the stream ends).
  // `bounded` false: queued past the stream's own bounds (a backlog the caller has bounded
  // itself), though never past the shared budget.
  bool Send(Message message, bool last, bool bounded = true) {
    const Message* write = nullptr;
    std::optional<grpc::Status> finish;
    bool queued = false;
    size_t bytes = message.ByteSizeLong();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ending_) return false;
      bool full =
          bounded && (queue_.size() >= bounds_.messages || queued_bytes_ + bytes > bounds_.bytes);
      size_t from_shared = SharedFor(queued_bytes_ + bytes) - shared_held_;
      if (full || (from_shared > 0 && !bounds_.shared->Take(from_shared))) {
        if (overflow_ == Overflow::kDrop) return false;
        finish = EndLocked(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("the client read ", what_, " slower than they came: at most ",
                         bounds_.messages, " (", bounds_.bytes, " bytes) wait for it")));
      } else {
        queue_.push_back({std::move(message), bytes});
        queued_bytes_ += bytes;
        shared_held_ += from_shared;
        queued = true;
        if (last) ending_ = grpc::Status::OK;
        write = StartLocked();
      }
    }
    Act(write, finish);
    return queued;
  }

  // Finishes with `status`, once the write in flight (if any) is done; queued events are
  // dropped.
  void End(grpc::Status status) {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ending_) return;
      finish = EndLocked(std::move(status));
    }
    Act(nullptr, finish);
  }

  void WriteDone(bool ok) {
    const Message* write = nullptr;
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      PopFrontLocked();
      writing_ = false;
      if (!ok && !ending_) ending_ = grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      if (!ok) KeepLocked(0);
      write = StartLocked();
      if (!write) finish = FinishLocked();
    }
    Act(write, finish);
  }

  // Sends the response headers now; a write already started has sent them.
  void SendHeaders() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (ending_ || wrote_) return;
      sending_headers_ = true;
    }
    reactor_->StartSendInitialMetadata();
  }

  void HeadersDone() {
    std::optional<grpc::Status> finish;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      sending_headers_ = false;
      finish = FinishLocked();
    }
    Act(nullptr, finish);
  }

 private:
  struct Queued {
    Message message;
    size_t bytes;
  };

  // The next write to start, if none is in flight.
  const Message* StartLocked() {
    if (writing_ || queue_.empty()) return nullptr;
    writing_ = wrote_ = true;
    return &queue_.front().message;  // stays put until its write is done: deque keeps references
  }

  void PopFrontLocked() {
    queued_bytes_ -= queue_.front().bytes;
    queue_.pop_front();
    GiveBack();
  }
  // Drops all but the first `kept` queued messages.
  void KeepLocked(size_t kept) {
    while (queue_.size() > kept) {
      queued_bytes_ -= queue_.back().bytes;
      queue_.pop_back();
    }
    GiveBack();
  }
  // What of `queued` bytes comes out of the shared budget: all past the stream's own.
  size_t SharedFor(size_t queued) const {
    return bounds_.shared && queued > bounds_.own ? queued - bounds_.own : 0;
  }
  // The shared bytes the queue no longer needs go back.
  void GiveBack() {
    size_t needed = SharedFor(queued_bytes_);
    if (shared_held_ > needed) {
      bounds_.shared->Give(shared_held_ - needed);
      shared_held_ = needed;
    }
  }

  std::optional<grpc::Status> EndLocked(grpc::Status status) {
    ending_ = std::move(status);
    KeepLocked(writing_ ? 1 : 0);  // keeps the one being written
    return FinishLocked();
  }

  // The status to finish with now: once ending and no operation is in flight, since the
  // reactor may be gone as soon as Finish is called.
  std::optional<grpc::Status> FinishLocked() {
    if (!ending_ || finished_ || writing_ || sending_headers_) return std::nullopt;
    finished_ = true;
    return ending_;
  }

  void Act(const Message* write, const std::optional<grpc::Status>& finish) {
    if (write) reactor_->StartWrite(write);
    if (finish) reactor_->Finish(*finish);
  }

  Reactor* const reactor_;  // alive until Finish: gRPC ends the call only after it
  const QueueBounds bounds_;
  const Overflow overflow_;
  const std::string what_;
  std::mutex mutex_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mutex_);  // front() is in flight while writing_
  size_t queued_bytes_ ABSL_GUARDED_BY(mutex_) = 0;   // of queue_'s messages
  size_t shared_held_ ABSL_GUARDED_BY(mutex_) = 0;    // of them, taken from bounds_.shared
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool wrote_ ABSL_GUARDED_BY(mutex_) = false;  // a write has started (it carried the headers)
  bool sending_headers_ ABSL_GUARDED_BY(mutex_) = false;
  std::optional<grpc::Status> ending_ ABSL_GUARDED_BY(mutex_);  // set: nothing more is queued
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;               // Finish has been called
};

// How a stream is fed, on the loop's thread: `subscribe` starts feeding the outbox (an error
// it returns ends the stream with that status); `unsubscribe` stops feeding once the stream
// has ended.
template <typename Message>
struct Feeding {
  std::function<absl::Status(std::shared_ptr<Outbox<Message>>)> subscribe;
  std::function<void()> unsubscribe;
  // Send the response headers once subscribed, so the client knows nothing is missed.
  bool headers_when_subscribed = false;
};

// A server stream fed on tend's loop as things happen, written by gRPC as the client takes
// them, with no thread held in between. What waits for a slow client is bounded by
// `bounds`; past that, `overflow` decides.
template <typename Message>
class FeedStream final : public grpc::ServerWriteReactor<Message> {
 public:
  FeedStream(loop::CrossThread& bridge, StreamLimit& limit, QueueBounds bounds, Overflow overflow,
             std::string what)
      : bridge_(bridge),
        limit_(limit),
        outbox_(std::make_shared<Outbox<Message>>(this, bounds, overflow, std::move(what))) {}

  void Begin(Feeding<Message> feeding) {
    unsubscribe_ = std::move(feeding.unsubscribe);
    bridge_.Post(
        [outbox = outbox_, subscribe = std::move(feeding.subscribe),
         headers = feeding.headers_when_subscribed] {
          // In the same turn of the loop as the subscription: nothing can happen in between,
          // and the headers go before anything the subscription writes.
          if (headers) outbox->SendHeaders();
          absl::Status begun = subscribe(outbox);
          if (!begun.ok()) {
            outbox->End(grpc::Status(static_cast<grpc::StatusCode>(begun.code()),
                                     std::string(begun.message())));
          }
        },
        [outbox = outbox_] {
          outbox->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "tend is stopping"));
        });
  }

  void OnWriteDone(bool ok) override { outbox_->WriteDone(ok); }
  void OnSendInitialMetadataDone(bool) override { outbox_->HeadersDone(); }
  void OnCancel() override { outbox_->End(grpc::Status::CANCELLED); }
  void OnDone() override {
    if (unsubscribe_) bridge_.Post(std::move(unsubscribe_));
    limit_.Give();
    delete this;
  }

 private:
  loop::CrossThread& bridge_;
  StreamLimit& limit_;
  std::shared_ptr<Outbox<Message>> outbox_;
  std::function<void()> unsubscribe_;
};

// A stream refused at once with `status`.
template <typename Message>
class RefusedStream final : public grpc::ServerWriteReactor<Message> {
 public:
  explicit RefusedStream(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// A stream fed by `feeding`, or refused when `limit` is reached.
template <typename Message>
grpc::ServerWriteReactor<Message>* OpenFeedStream(loop::CrossThread& bridge, StreamLimit& limit,
                                                  QueueBounds bounds, Overflow overflow,
                                                  std::string what, Feeding<Message> feeding) {
  if (!limit.Take()) return new RefusedStream<Message>(limit.Refusal());
  auto* stream = new FeedStream<Message>(bridge, limit, bounds, overflow, std::move(what));
  stream->Begin(std::move(feeding));
  return stream;
}

}  // namespace tend::control
