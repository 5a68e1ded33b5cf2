// A deterministic driver for libFuzzer-style targets (LLVMFuzzerTestOneInput), built with
// gcc's ASan and UBSan so that `make test` runs the same targets libFuzzer would, without
// clang: every seed of the target's corpus first, then a fixed number of inputs mutated
// from them with a fixed random seed (byte flips, inserted and deleted runs, repeats, splices
// of two seeds, tokens of the target's own syntax). A crash or a sanitizer report fails it.
//
//   TARGET CORPUS_DIR [INPUTS] [SEED]
//
// The same targets build with `clang -fsanitize=fuzzer` for open-ended fuzzing.
#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Fragments that reach deeper than random bytes: JSON, YAML, cron and IPC syntax.
const char* const kTokens[] = {
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\n",
    "null",
    "true",
    "-1",
    "0",
    "65536",
    "4294967296",
    "1e309",
    "\\u0000",
    "&a ",
    "*a",
    "- ",
    "  ",
    "!!",
    "<<: ",
    "? ",
    "---",
    "\"cmd\":\"NODE_CLUSTER\"",
    "\"act\":\"queryServer\"",
    "\"act\":\"close\"",
    "\"key\":",
    "\"port\":",
    "\"index\":",
    "\"addressType\":6",
    "\"seq\":",
    "\"NODE_HANDLE_ACK\"",
    "\"apps\":",
    "\"script\":",
    "\"env\":",
    "\"instances\":",
    "*",
    "/",
    "-",
    "L",
    "W",
    "#",
    "?",
    "@daily",
    "JAN",
    "mon",
    "SIG",
    "RTMIN+",
    "ms",
    "G",
};

std::vector<std::string> ReadCorpus(const std::string& dir) {
  std::vector<std::string> seeds;
  DIR* folder = opendir(dir.c_str());
  if (!folder) return seeds;
  while (dirent* entry = readdir(folder)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream file(dir + "/" + entry->d_name, std::ios::binary);
    std::stringstream content;
    content << file.rdbuf();
    seeds.push_back(content.str());
  }
  closedir(folder);
  return seeds;
}

std::string Mutate(const std::vector<std::string>& seeds, std::mt19937_64& random) {
  auto pick = [&random](size_t n) { return n == 0 ? 0 : static_cast<size_t>(random() % n); };
  std::string input = seeds.empty() ? "" : seeds[pick(seeds.size())];
  int rounds = 1 + static_cast<int>(pick(8));
  for (int round = 0; round < rounds; ++round) {
    size_t at = pick(input.size() + 1);
    switch (pick(6)) {
      case 0:  // flip a byte
        if (!input.empty()) input[pick(input.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 1:  // insert random bytes
        input.insert(at, std::string(1 + pick(8), static_cast<char>(random())));
        break;
      case 2:  // delete a run
        if (!input.empty()) input.erase(pick(input.size()), 1 + pick(16));
        break;
      case 3:  // insert a token
        input.insert(at, kTokens[pick(sizeof kTokens / sizeof *kTokens)]);
        break;
      case 4: {  // repeat a run
        if (input.empty()) break;
        size_t from = pick(input.size());
        std::string run = input.substr(from, 1 + pick(32));
        for (size_t times = 1 + pick(16); times > 0; --times) input.insert(at, run);
        break;
      }
      case 5:  // splice in part of another seed
        if (!seeds.empty()) {
          const std::string& other = seeds[pick(seeds.size())];
          input.insert(at, other.substr(pick(other.size() + 1)));
        }
        break;
    }
  }
  if (input.size() > 64 * 1024) input.resize(64 * 1024);
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR [INPUTS] [SEED]\n", argv[0]);
    return 2;
  }
  std::vector<std::string> seeds = ReadCorpus(argv[1]);
  long inputs = argc > 2 ? std::atol(argv[2]) : 20000;
  std::mt19937_64 random(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1);
  for (const std::string& seed : seeds) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
  }
  for (long i = 0; i < inputs; ++i) {
    std::string input = Mutate(seeds, random);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("%zu seeds and %ld mutated inputs: no crash, no sanitizer report\n", seeds.size(),
              inputs);
  return 0;
}
