#include "runtime/cluster/worker_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "runtime/net/listen.h"

namespace tend::cluster {
namespace {

using Json = nlohmann::json;

constexpr int kUvEnotsup = -ENOTSUP;

// What tend sends back may echo the worker's strings: never throw on one.
std::string Dump(const Json& message) {
  return message.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A field of the expected type, or `fallback` (the worker is untrusted: never throw).
template <typename T>
T Field(const Json& message, const char* name, T fallback) {
  auto it = message.find(name);
  if (it == message.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else {
    // Out of range is no value: a cast would wrap it (port 65616 would become 80).
    if (!it->is_number_integer()) return fallback;
    if (it->is_number_unsigned()) {
      uint64_t value = it->template get<uint64_t>();
      return value <= static_cast<uint64_t>(std::numeric_limits<T>::max()) ? static_cast<T>(value)
                                                                           : fallback;
    }
    int64_t value = it->template get<int64_t>();
    return value >= std::numeric_limits<T>::min() && value <= std::numeric_limits<T>::max()
               ? static_cast<T>(value)
               : fallback;
  }
}

// Whether the field is the boolean true.
bool IsTrue(const Json& message, const char* name) {
  auto it = message.find(name);
  return it != message.end() && it->is_boolean() && it->get<bool>();
}

// What server.address() answers in the worker: the socket's own address, as Node's
// getsockname gives it.
Json SocketName(int fd) {
  std::optional<sockaddr_storage> bound = net::LocalAddress(fd);
  if (!bound) return nullptr;
  return {{"address", net::AddressOf(*bound)},
          {"family", bound->ss_family == AF_INET6 ? "IPv6" : "IPv4"},
          {"port", net::PortOf(*bound)}};
}

}  // namespace

absl::StatusOr<WorkerSession::Event> WorkerSession::Handle(const std::string& line) {
  // The one message that may be large is read in one pass, with no document built.
  if (absl::StartsWith(line, kAppMetricsMessageStart)) return OnAppMetrics(line);
  Json message = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return absl::InvalidArgumentError("a message that is not JSON");
  if (message.is_string()) {
    return message.get<std::string>() == "ready" ? Event::kReady : Event::kNone;
  }
  if (!message.is_object()) return Event::kNone;
  std::string cmd = Field<std::string>(message, "cmd", "");

  if (cmd == "NODE_HANDLE_ACK") {
    channel_.HandleAcknowledged();
    return Event::kNone;
  }
  if (cmd == "NODE_HANDLE") {
    // The descriptor was closed on arrival; acknowledging lets the worker go on.
    channel_.Send(R"({"cmd":"NODE_HANDLE_ACK"})");
    return absl::InvalidArgumentError("a file descriptor tend did not ask for (closed)");
  }
  if (cmd == "NODE_TEND_DRAINED") return Event::kDrained;
  if (cmd == "NODE_TEND_PRELOADED") return Event::kPreloaded;
  if (cmd == "NODE_TEND_METRICS") {
    return absl::InvalidArgumentError("app metrics not in the form tend's preload writes");
  }
  if (cmd != "NODE_CLUSTER") return Event::kNone;  // the app's own messages

  std::string act = Field<std::string>(message, "act", "");
  int seq = Field<int>(message, "seq", -1);
  if (act.empty() && message.contains("accepted")) {  // the answer to a newconn
    auto accepted = message.find("accepted");
    if (!accepted->is_boolean() ||
        !sockets_.Answered(holder_.worker_id, Field<int>(message, "ack", -1),
                           accepted->get<bool>())) {
      return absl::InvalidArgumentError("an answer for a connection it was not handed");
    }
    return Event::kNone;
  }
  if (act == "online") return Event::kOnline;
  if (act == "listening") return Event::kListening;
  if (act == "close") {  // the worker closed a server: it no longer holds that socket
    sockets_.Release(holder_.worker_id, Field<std::string>(message, "key", ""));
    return Event::kNone;
  }
  if (act == "exitedAfterDisconnect") {
    Reply(seq, 0, "");
    return Event::kNone;
  }
  if (act != "queryServer") return Event::kNone;

  int address_type = Field<int>(message, "addressType", 4);
  if (address_type != 4 && address_type != 6) {
    Reply(seq, kUvEnotsup, "");  // pipes: not shared by tend
    return Event::kNone;
  }
  SharedSockets::Request request{
      Field<std::string>(message, "address", ""), Field<int>(message, "port", -1), address_type,
      Field<int>(message, "index", 0), Field<int>(message, "backlog", 0)};
  SharedSockets::Listening listening = sockets_.Acquire(holder_, request);
  const std::string& key = listening.key;
  if (listening.fd < 0) {
    Reply(seq, listening.uv_errno, key);
    return Event::kNone;
  }
  if (holder_.round_robin) {
    // No socket for the worker: it gets its connections from tend, one newconn each.
    absl::Status joined = sockets_.JoinRoundRobin(
        holder_.worker_id, key, [this, key](int connection) { return HandOver(key, connection); });
    if (!joined.ok()) {
      sockets_.Release(holder_.worker_id, key);
      Reply(seq, -ENOMEM, key);
      return Event::kNone;
    }
    Json reply = {{"cmd", "NODE_CLUSTER"},
                  {"ack", seq},
                  {"errno", 0},
                  {"key", key},
                  {"sockname", SocketName(listening.fd)},
                  {"data", nullptr},
                  {"seq", NextSeq()}};
    channel_.Send(Dump(reply));
    return Event::kNone;
  }
  Json reply = {{"cmd", "NODE_CLUSTER"}, {"ack", seq},      {"errno", 0},      {"key", key},
                {"sockname", nullptr},   {"data", nullptr}, {"seq", NextSeq()}};
  Json wrapper = {{"cmd", "NODE_HANDLE"}, {"type", "net.Native"}, {"msg", reply}};
  if (!channel_.Send(Dump(wrapper), listening.fd)) {
    // Descriptors ran out, or the worker does not read: it gets no socket, and says so.
    sockets_.Release(holder_.worker_id, key);
    Reply(seq, -EMFILE, key);
  }
  return Event::kNone;
}

int WorkerSession::NextSeq() {
  int seq = seq_;
  seq_ = SeqAfter(seq_);
  return seq;
}

void WorkerSession::Reply(int ack, int uv_errno, const std::string& key) {
  Json reply = {{"cmd", "NODE_CLUSTER"}, {"ack", ack}, {"errno", uv_errno}, {"seq", NextSeq()}};
  if (!key.empty()) reply["key"] = key;
  channel_.Send(Dump(reply));
}

int WorkerSession::HandOver(const std::string& key, int connection) {
  int seq = NextSeq();
  Json newconn = {{"cmd", "NODE_CLUSTER"}, {"act", "newconn"}, {"key", key}, {"seq", seq}};
  Json wrapper = {{"cmd", "NODE_HANDLE"}, {"type", "net.Native"}, {"msg", newconn}};
  if (!channel_.Send(Dump(wrapper), connection)) return -1;
  wake_();
  return seq;
}

void WorkerSession::RequestAppMetrics(size_t max_bytes) {
  metrics_ = {};
  metrics_pending_ = true;
  metrics_max_bytes_ = std::min(max_bytes, kMaxAppMetricsBytes);
  channel_.Send(Dump({{"cmd", "NODE_TEND_METRICS"}, {"id", ++metrics_asked_}}));
  wake_();
}

absl::StatusOr<WorkerSession::Event> WorkerSession::OnAppMetrics(const std::string& line) {
  bool awaited = false;
  AppMetricsPiece piece = ReadAppMetricsPiece(
      line,
      [this, &awaited](int64_t id) {
        awaited = metrics_pending_ && id == metrics_asked_;
        return awaited ? &metrics_ : nullptr;
      },
      metrics_max_bytes_);
  if (piece.id <= 0 || piece.id > metrics_asked_) {
    return absl::InvalidArgumentError("app metrics tend did not ask for");
  }
  // The late rest of an answer tend gave up on: the worker was slow, not wrong.
  if (!awaited) return Event::kNone;
  // A part that cannot be read spoils the answer: it ends at once, counted as invalid.
  if (!piece.read) metrics_.error = "a part of the answer that is not as the preload writes it";
  if (!metrics_.error.empty()) std::vector<prom_client::Family>().swap(metrics_.registry.families);
  if (piece.read && !piece.last) return Event::kNone;
  metrics_pending_ = false;
  return Event::kAppMetrics;
}

void WorkerSession::SendDrain() { channel_.Send(R"({"cmd":"NODE_TEND_DRAIN"})"); }

void WorkerSession::SendShutdown() { channel_.Send(R"("shutdown")"); }

}  // namespace tend::cluster
