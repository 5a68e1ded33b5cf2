#include "runtime/net/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/logs/diagnostics.h"

namespace tend::net {
namespace {

// Bytes moved each way in one pump before the loop's other work gets a turn.
constexpr int kChunksPerPump = 16;
constexpr size_t kChunk = 16 * 1024;

std::string OpenSslError() {
  unsigned long error = ERR_get_error();
  ERR_clear_error();
  if (error == 0) return "no reason given";
  char text[256];
  ERR_error_string_n(error, text, sizeof text);
  return text;
}

// gRPC clients require HTTP/2 by ALPN.
int SelectH2(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
             unsigned int in_length, void*) {
  static const unsigned char kH2[] = {2, 'h', '2'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kH2, sizeof kH2, in, in_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

absl::StatusOr<SSL_CTX*> MakeContext(const TlsFiles& files) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (!context) return absl::InternalError(absl::StrCat("SSL_CTX_new: ", OpenSslError()));
  auto fail = [context](const std::string& what) {
    std::string why = OpenSslError();
    SSL_CTX_free(context);
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
  };
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                SSL_MODE_RELEASE_BUFFERS);
  // A client cannot make tend handshake again and again on one connection, nor fill a
  // session cache (tickets, which tend keeps nothing for, still resume sessions).
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  // Resumed sessions (tickets) of verified clients need a context to belong to.
  static const unsigned char kSessionContext[] = "tend";
  SSL_CTX_set_session_id_context(context, kSessionContext, sizeof kSessionContext - 1);
  // An encrypted key must fail to load, not prompt on a terminal or read stdin (PID 1 would
  // wait there for good).
  SSL_CTX_set_default_passwd_cb(context, [](char*, int, int, void*) { return 0; });
  if (SSL_CTX_use_certificate_chain_file(context, files.cert.c_str()) != 1) {
    return fail(files.cert);
  }
  if (SSL_CTX_use_PrivateKey_file(context, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(files.key);
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return fail(absl::StrCat(files.key, " is not the key of ", files.cert));
  }
  if (!files.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(context, files.client_ca.c_str(), nullptr) != 1) {
      return fail(files.client_ca);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca.c_str());
    if (!names) return fail(files.client_ca);
    SSL_CTX_set_client_CA_list(context, names);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  SSL_CTX_set_alpn_select_cb(context, SelectH2, nullptr);
  return context;
}

}  // namespace

TlsContext::Stamps TlsContext::StampsOf(const TlsFiles& files) {
  Stamps stamps;
  const std::string* paths[] = {&files.cert, &files.key, &files.client_ca};
  for (size_t i = 0; i < stamps.size(); ++i) {
    struct stat about;
    if (paths[i]->empty() || stat(paths[i]->c_str(), &about) != 0) continue;
    stamps[i] = absl::StrCat(about.st_dev, ":", about.st_ino, ":", about.st_size, ":",
                             about.st_mtim.tv_sec, ".", about.st_mtim.tv_nsec);
  }
  return stamps;
}

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Load(TlsFiles files) {
  Stamps stamps = StampsOf(files);
  absl::StatusOr<SSL_CTX*> context = MakeContext(files);
  if (!context.ok()) return context.status();
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(files), *context, stamps));
}

TlsContext::TlsContext(TlsFiles files, SSL_CTX* context, Stamps stamps)
    : files_(std::move(files)),
      context_(context),
      stamps_(std::move(stamps)),
      checked_(std::chrono::steady_clock::now()) {}

TlsContext::~TlsContext() { SSL_CTX_free(context_); }

SSL_CTX* TlsContext::Current() {
  auto now = std::chrono::steady_clock::now();
  if (now - checked_ < kCheckEvery) return context_;
  checked_ = now;
  Stamps stamps = StampsOf(files_);
  if (stamps == stamps_) return context_;
  stamps_ = stamps;  // a set that fails is tried again only once it changes again
  absl::StatusOr<SSL_CTX*> reloaded = MakeContext(files_);
  if (!reloaded.ok()) {
    if (!reported_) {
      logs::Warn(absl::StrCat("--grpc-tls-cert: the changed files do not load (",
                              reloaded.status().message(), "): keeping the last ones"));
    }
    reported_ = true;
    return context_;
  }
  logs::Info(absl::StrCat("--grpc-tls-cert: ", files_.cert, " loaded again"));
  reported_ = false;
  SSL_CTX_free(context_);  // connections that use it hold their own reference
  context_ = *reloaded;
  return context_;
}

absl::StatusOr<std::unique_ptr<TlsTunnel>> TlsTunnel::Start(loop::EventLoop& loop, SSL_CTX* context,
                                                            UniqueFd client, UniqueFd plaintext,
                                                            std::function<void()> on_closed) {
  SSL* ssl = SSL_new(context);
  if (!ssl) return absl::ResourceExhaustedError(absl::StrCat("SSL_new: ", OpenSslError()));
  if (SSL_set_fd(ssl, client.get()) != 1) {
    SSL_free(ssl);
    return absl::InternalError(absl::StrCat("SSL_set_fd: ", OpenSslError()));
  }
  SSL_set_accept_state(ssl);
  std::unique_ptr<TlsTunnel> tunnel(
      new TlsTunnel(loop, ssl, std::move(client), std::move(plaintext), std::move(on_closed)));
  TlsTunnel* raw = tunnel.get();
  // Both ends readable at first (watching_ says so): the client's hello, or a close.
  absl::Status watched = loop.Watch(raw->client_.get(), [raw] { raw->Pump(); });
  if (watched.ok()) watched = loop.Watch(raw->plaintext_.get(), [raw] { raw->Pump(); });
  if (!watched.ok()) {
    raw->closed_ = true;  // the destructor unwatches; on_closed is not owed
    return watched;
  }
  raw->deadline_ = loop.After(kHandshakeDeadline, [raw] { raw->Close(); });
  return tunnel;
}

TlsTunnel::TlsTunnel(loop::EventLoop& loop, SSL* ssl, UniqueFd client, UniqueFd plaintext,
                     std::function<void()> on_closed)
    : loop_(loop),
      ssl_(ssl),
      client_(std::move(client)),
      plaintext_(std::move(plaintext)),
      on_closed_(std::move(on_closed)) {}

TlsTunnel::~TlsTunnel() {
  loop_.Unwatch(client_.get());
  loop_.Unwatch(plaintext_.get());
  SSL_free(ssl_);
}

void TlsTunnel::Pump() {
  if (closed_) return;
  client_read_ = client_write_ = plain_read_ = plain_write_ = false;
  if (!handshaken_ && !Handshake()) return;
  uint64_t sent = sent_;
  if (handshaken_ && (!FromClient() || !ToClient())) return;
  if (outbound_.empty()) {
    stall_.reset();
  } else if (!stall_ || sent_ != sent) {
    stall_ = loop_.After(kStallTimeout, [this] { Close(); });
  }
  Watch();
}

bool TlsTunnel::Handshake() {
  int done = SSL_do_handshake(ssl_);
  if (done == 1) {
    handshaken_ = true;
    return true;
  }
  int error = SSL_get_error(ssl_, done);
  ERR_clear_error();
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    (error == SSL_ERROR_WANT_READ ? client_read_ : client_write_) = true;
    return true;
  }
  Close();  // not TLS, no certificate (mutual TLS), or one that does not verify
  return false;
}

// Client to gRPC: what was decrypted goes out before more is read, so at most one chunk
// waits for gRPC.
bool TlsTunnel::FromClient() {
  for (int chunks = 0; chunks < kChunksPerPump;) {
    if (!inbound_.empty()) {
      ssize_t sent = send(plaintext_.get(), inbound_.data(), inbound_.size(), MSG_NOSIGNAL);
      if (sent > 0) {
        inbound_.erase(0, static_cast<size_t>(sent));
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent < 0 && errno == EAGAIN) {
        plain_write_ = true;  // gRPC is behind: the client is not read meanwhile
        return true;
      }
      Close();
      return false;
    }
    char buffer[kChunk];
    int read = SSL_read(ssl_, buffer, sizeof buffer);
    if (read > 0) {
      deadline_.reset();  // a byte came through: the deadline is over
      inbound_.append(buffer, static_cast<size_t>(read));
      ++chunks;
      continue;
    }
    int error = SSL_get_error(ssl_, read);
    ERR_clear_error();
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      (error == SSL_ERROR_WANT_READ ? client_read_ : client_write_) = true;
      return true;
    }
    Close();  // the client closed, or its TLS failed
    return false;
  }
  client_read_ = true;
  // Data may wait inside OpenSSL, where the descriptor cannot say so: another turn soon.
  resume_ = loop_.After(std::chrono::milliseconds(0), [this] { Pump(); });
  return true;
}

// gRPC to client: up to kMaxBuffered waits for a client that reads slowly; past it, gRPC
// is not read meanwhile.
bool TlsTunnel::ToClient() {
  bool client_behind = false;
  for (int chunks = 0; chunks < kChunksPerPump;) {
    if (!outbound_.empty() && !client_behind) {
      int written = SSL_write(ssl_, outbound_.data(), static_cast<int>(outbound_.size()));
      if (written > 0) {
        sent_ += static_cast<uint64_t>(written);
        outbound_.erase(0, static_cast<size_t>(written));
        continue;
      }
      int error = SSL_get_error(ssl_, written);
      ERR_clear_error();
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        Close();
        return false;
      }
      (error == SSL_ERROR_WANT_READ ? client_read_ : client_write_) = true;
      client_behind = true;
    }
    if (outbound_.size() >= kMaxBuffered) return true;
    char buffer[kChunk];
    ssize_t got =
        recv(plaintext_.get(), buffer, std::min(sizeof buffer, kMaxBuffered - outbound_.size()), 0);
    if (got > 0) {
      outbound_.append(buffer, static_cast<size_t>(got));
      ++chunks;
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && errno == EAGAIN) {
      plain_read_ = true;
      return true;
    }
    // gRPC closed its end (its GOAWAY may still wait): one last try, then close.
    if (!outbound_.empty()) SSL_write(ssl_, outbound_.data(), static_cast<int>(outbound_.size()));
    Close();
    return false;
  }
  plain_read_ = true;  // still readable: the next turn goes on
  return true;
}

void TlsTunnel::Watch() {
  int wanted = (client_read_ ? 1 : 0) | (client_write_ ? 2 : 0) | (plain_read_ ? 4 : 0) |
               (plain_write_ ? 8 : 0);
  if (wanted == watching_) return;
  watching_ = wanted;
  auto when = [this](bool wanted) {
    return wanted ? loop::EventLoop::Callback([this] { Pump(); }) : nullptr;
  };
  bool ok = loop_.Watch(client_.get(), when(client_read_)).ok() &&
            loop_.WatchWritable(client_.get(), when(client_write_)).ok() &&
            loop_.Watch(plaintext_.get(), when(plain_read_)).ok() &&
            loop_.WatchWritable(plaintext_.get(), when(plain_write_)).ok();
  if (!ok) Close();
}

void TlsTunnel::Close() {
  if (closed_) return;
  closed_ = true;
  loop_.Unwatch(client_.get());
  loop_.Unwatch(plaintext_.get());
  deadline_.reset();
  stall_.reset();
  resume_.reset();
  std::function<void()> closed = std::move(on_closed_);
  closed();  // may destroy this tunnel: nothing after it
}

}  // namespace tend::net
