#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/fd/unique_fd.h"
#include "runtime/loop/event_loop.h"

struct ssl_ctx_st;
struct ssl_st;

namespace tend::net {

// PEM files: the server's certificate chain and key, and for mutual TLS the CAs a client's
// certificate must chain to (empty: clients are not asked for one).
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;
};

// What a TLS listener serves with, read from its files, and read again when one changes
// (Kubernetes rotates a mounted secret by swapping a symlink): looked at, at most once a
// second, as connections come. A changed set that does not load is said once, and the last
// one that did is kept. TLS 1.2 and up; ALPN "h2", which gRPC clients require.
class TlsContext {
 public:
  static constexpr std::chrono::seconds kCheckEvery{1};

  // Fails, naming the file and OpenSSL's reason, when the files do not make a context.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Load(TlsFiles files);
  ~TlsContext();

  // The context for a new connection (reloaded first, if a file changed).
  ssl_ctx_st* Current();

 private:
  using Stamps = std::array<std::string, 3>;  // what tells each file's content changed
  TlsContext(TlsFiles files, ssl_ctx_st* context, Stamps stamps);
  static Stamps StampsOf(const TlsFiles& files);

  const TlsFiles files_;
  ssl_ctx_st* context_;
  Stamps stamps_;
  std::chrono::steady_clock::time_point checked_;
  bool reported_ = false;  // a failed reload was said; said again only after a good one
};

// One TLS connection ended on tend's loop: what the client sends is decrypted into
// `plaintext` (tend's end of a socket pair whose other end gRPC serves), and what comes back
// is encrypted for the client. At most kMaxBuffered bytes wait each way: the side that is
// ahead is not read meanwhile. The handshake, and a first byte through it, must come within
// kHandshakeDeadline, as a plaintext connection's first byte must (gRPC has no deadline of
// its own for a connection that never speaks).
// `on_closed` runs once, from the loop, when either side has gone or the handshake failed;
// the owner then destroys the tunnel.
class TlsTunnel {
 public:
  static constexpr size_t kMaxBuffered = 64 * 1024;
  static constexpr std::chrono::seconds kHandshakeDeadline{5};
  // A client that takes nothing of what waits for it for this long is closed: gRPC may have
  // gone meanwhile, unheard while nothing more is read from it.
  static constexpr std::chrono::seconds kStallTimeout{10};

  static absl::StatusOr<std::unique_ptr<TlsTunnel>> Start(loop::EventLoop& loop,
                                                          ssl_ctx_st* context, UniqueFd client,
                                                          UniqueFd plaintext,
                                                          std::function<void()> on_closed);
  ~TlsTunnel();
  TlsTunnel(const TlsTunnel&) = delete;
  TlsTunnel& operator=(const TlsTunnel&) = delete;

 private:
  TlsTunnel(loop::EventLoop& loop, ssl_st* ssl, UniqueFd client, UniqueFd plaintext,
            std::function<void()> on_closed);
  // Moves bytes every way it can until each would block, then watches for what it waits on.
  void Pump();
  bool Handshake();
  bool FromClient();
  bool ToClient();
  void Watch();
  void Close();

  loop::EventLoop& loop_;
  ssl_st* ssl_;
  UniqueFd client_;
  UniqueFd plaintext_;
  std::function<void()> on_closed_;
  std::unique_ptr<loop::Timer> deadline_;  // until a first byte comes through
  std::unique_ptr<loop::Timer> stall_;     // armed while bytes wait for the client
  uint64_t sent_ = 0;                      // bytes written to the client
  std::unique_ptr<loop::Timer> resume_;    // another pump soon: OpenSSL may hold decrypted data
  std::string inbound_;                    // decrypted, for gRPC
  std::string outbound_;                   // from gRPC, to encrypt
  bool handshaken_ = false;
  bool closed_ = false;
  // What the last attempts waited for.
  bool client_read_ = false, client_write_ = false;
  bool plain_read_ = false, plain_write_ = false;
  int watching_ = 1 | 4;  // what the loop watches now, as Watch() encodes it
};

}  // namespace tend::net
