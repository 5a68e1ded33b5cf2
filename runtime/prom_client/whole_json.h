#pragma once

#include <string>

#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace tend::prom_client {

// Reads all of `text` with `handler` (RapidJSON's SAX events), as every reader of a worker's
// metrics does: the one place that chooses RapidJSON's flags. No recursion (the handler
// bounds nesting), UTF-8 validated, and numbers exact (the fast path is one ULP off for one
// double in ten). A bounded stream, not a NUL-terminated one: validating UTF-8, RapidJSON
// takes a multi-byte character's tail bytes without looking, so a lead byte at the end of
// the text would read past a StringStream's NUL. A NUL inside `text` ends the document
// early, which is then no end. (1.1.0's exponent overflows, CVE-2024-38517 and -39684, need
// over 2^31 digits in one number; what is read here is at most an IPC message, or a test's.)
template <typename Handler>
bool ReadWholeJson(const std::string& text, Handler& handler) {
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  reader.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
               rapidjson::kParseFullPrecisionFlag>(stream, handler);
  return !reader.HasParseError() && stream.Tell() == text.size();
}

}  // namespace tend::prom_client
