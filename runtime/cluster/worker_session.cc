#include "runtime/cluster/worker_session.h"

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace tend::cluster {
namespace {

using Json = nlohmann::json;

constexpr int kUvEnotsup = -ENOTSUP;

// A field of the expected type, or `fallback` (the worker is untrusted: never throw).
template <typename T>
T Field(const Json& message, const char* name, T fallback) {
  auto it = message.find(name);
  if (it == message.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else {
    return it->is_number_integer() ? it->template get<T>() : fallback;
  }
}

}  // namespace

absl::StatusOr<WorkerSession::Event> WorkerSession::Handle(const std::string& line) {
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
  if (cmd != "NODE_CLUSTER") return Event::kNone;  // the app's own messages

  std::string act = Field<std::string>(message, "act", "");
  int seq = Field<int>(message, "seq", -1);
  if (act == "online") return Event::kOnline;
  if (act == "listening") return Event::kListening;
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
  SharedSockets::Listening listening = sockets_.Listen(
      Field<std::string>(message, "address", ""), Field<int>(message, "port", -1), address_type,
      Field<int>(message, "index", 0), Field<int>(message, "backlog", 0));
  const std::string& key = listening.key;
  if (listening.fd < 0) {
    Reply(seq, listening.uv_errno, key);
    return Event::kNone;
  }
  Json reply = {{"cmd", "NODE_CLUSTER"}, {"ack", seq},       {"errno", 0},
                {"key", key},            {"sockname", nullptr}, {"data", nullptr},
                {"seq", seq_++}};
  Json wrapper = {{"cmd", "NODE_HANDLE"}, {"type", "net.Native"}, {"msg", reply}};
  channel_.Send(wrapper.dump(), listening.fd);
  return Event::kNone;
}

void WorkerSession::Reply(int ack, int uv_errno, const std::string& key) {
  Json reply = {{"cmd", "NODE_CLUSTER"}, {"ack", ack}, {"errno", uv_errno}, {"seq", seq_++}};
  if (!key.empty()) reply["key"] = key;
  channel_.Send(reply.dump());
}

void WorkerSession::SendDrain() { channel_.Send(R"({"cmd":"NODE_TEND_DRAIN"})"); }

void WorkerSession::SendShutdown() { channel_.Send(R"("shutdown")"); }

}  // namespace tend::cluster
