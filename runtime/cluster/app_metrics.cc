#include "runtime/cluster/app_metrics.h"

#include <optional>

#include "runtime/prom_client/whole_json.h"

namespace tend::cluster {
namespace {

// The message's own fields as RapidJSON's events; the families array goes to a
// prom_client::RegistryReader as it streams.
class PieceReader {
 public:
  PieceReader(const std::function<AppMetricsAnswer*(int64_t)>& answer_for, size_t max_bytes)
      : answer_for_(answer_for), max_bytes_(max_bytes) {}

  const AppMetricsPiece& piece() const { return piece_; }

  bool Null() {
    return families_ ? Forward([](auto& r) { return r.Null(); }) : false;
  }
  bool Bool(bool value) {
    if (families_) return Forward([&](auto& r) { return r.Bool(value); });
    if (next_ == Next::kLast) piece_.last = value;
    if (next_ == Next::kNone) answer_->none = value;
    return Took(next_ == Next::kLast || next_ == Next::kNone);
  }
  bool Int(int value) { return Integer(value); }
  bool Uint(unsigned value) { return Integer(value); }
  bool Int64(int64_t value) { return Integer(value); }
  bool Uint64(uint64_t value) {
    if (families_) return Forward([&](auto& r) { return r.Uint64(value); });
    return false;  // an id past int64 is none tend asked for
  }
  bool Double(double value) {
    return families_ ? Forward([&](auto& r) { return r.Double(value); }) : false;
  }
  bool RawNumber(const char*, unsigned, bool) { return false; }  // never asked for
  bool String(const char* text, unsigned length, bool copy) {
    if (families_) return Forward([&](auto& r) { return r.String(text, length, copy); });
    if (next_ == Next::kCmd) return Took(true);  // kAppMetricsMessageStart said which
    if (next_ == Next::kError) answer_->error.assign(text, length);
    return Took(next_ == Next::kError);
  }
  bool Key(const char* text, unsigned length, bool copy) {
    if (families_) return Forward([&](auto& r) { return r.Key(text, length, copy); });
    absl::string_view key(text, length);
    if (next_ == Next::kCmdKey) return key == "cmd" && Expect(Next::kCmd);
    if (next_ == Next::kIdKey) return key == "id" && Expect(Next::kId);
    if (next_ != Next::kKey) return false;
    if (key == "families") return Expect(Next::kFamilies);
    if (key == "last") return Expect(Next::kLast);
    if (key == "none") return Expect(Next::kNone);
    if (key == "error") return Expect(Next::kError);
    return false;
  }
  bool StartObject() {
    if (families_) return Forward([](auto& r) { return r.StartObject(); });
    return next_ == Next::kOpen && Expect(Next::kCmdKey);
  }
  bool EndObject(unsigned members) {
    if (families_) return Forward([&](auto& r) { return r.EndObject(members); });
    piece_.read = next_ == Next::kKey;
    return piece_.read;
  }
  bool StartArray() {
    if (next_ == Next::kFamilies && !families_) families_.emplace(answer_->registry, max_bytes_);
    return families_ ? Forward([](auto& r) { return r.StartArray(); }) : false;
  }
  bool EndArray(unsigned elements) {
    return families_ ? Forward([&](auto& r) { return r.EndArray(elements); }) : false;
  }

 private:
  // What the next event must be.
  enum class Next { kOpen, kCmdKey, kCmd, kIdKey, kId, kKey, kFamilies, kLast, kNone, kError };

  template <typename Event>
  bool Forward(Event event) {
    bool ok = event(*families_);
    if (families_->done()) {
      families_.reset();
      next_ = Next::kKey;
    }
    return ok;
  }
  bool Expect(Next next) {
    next_ = next;
    return true;
  }
  // A field's value was of the kind its key wants (`fits`): the next key follows.
  bool Took(bool fits) {
    if (fits) next_ = next_ == Next::kCmd ? Next::kIdKey : Next::kKey;
    return fits;
  }
  bool Integer(int64_t value) {
    if (families_) return Forward([&](auto& r) { return r.Int64(value); });
    if (next_ != Next::kId) return false;
    piece_.id = value;
    answer_ = answer_for_(value);
    return answer_ != nullptr && Took(true);
  }

  const std::function<AppMetricsAnswer*(int64_t)>& answer_for_;
  const size_t max_bytes_;
  AppMetricsPiece piece_;
  AppMetricsAnswer* answer_ = nullptr;
  Next next_ = Next::kOpen;
  std::optional<prom_client::RegistryReader> families_;
};

}  // namespace

AppMetricsPiece ReadAppMetricsPiece(const std::string& line,
                                    const std::function<AppMetricsAnswer*(int64_t id)>& answer_for,
                                    size_t max_bytes) {
  PieceReader handler(answer_for, max_bytes);
  bool whole = prom_client::ReadWholeJson(line, handler);
  AppMetricsPiece piece = handler.piece();
  piece.read = piece.read && whole;
  return piece;
}

}  // namespace tend::cluster
