#include "runtime/startup/startup_pages.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "runtime/fd/unique_fd.h"

namespace tend::startup {
namespace {

// /proc/self/smaps of a process with a few dozen mappings is a few tens of KiB.
constexpr size_t kMaxSmapsBytes = 4 << 20;

// The read-only PT_LOAD segments of the program itself, page-aligned.
std::vector<AddressRange> ReadOnlySegments() {
  std::vector<AddressRange> segments;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& header = info->dlpi_phdr[i];
          if (header.p_type != PT_LOAD || (header.p_flags & PF_W)) continue;
          uintptr_t begin = info->dlpi_addr + header.p_vaddr;
          uintptr_t end = begin + header.p_memsz;
          static_cast<std::vector<AddressRange>*>(out)->push_back(
              {begin & ~(page - 1), (end + page - 1) & ~(page - 1)});
        }
        return 1;  // the first object is the program; stop there
      },
      &segments);
  return segments;
}

bool ReadSmaps(std::string* text) {
  UniqueFd fd(open("/proc/self/smaps", O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  char buffer[16384];
  while (text->size() < kMaxSmapsBytes) {
    ssize_t got = read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return false;
    if (got == 0) return true;
    text->append(buffer, static_cast<size_t>(got));
  }
  return false;
}

bool ParseHex(std::string_view text, uintptr_t* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value, 16);
  return error == std::errc() && end == text.data() + text.size();
}

// "BEGIN-END perms ..." opens a mapping's block; false for the "Key: value" lines inside it.
bool ParseMappingHeader(std::string_view line, AddressRange* range) {
  size_t dash = line.find('-'), space = line.find(' ');
  if (dash == std::string_view::npos || space == std::string_view::npos || dash > space) {
    return false;
  }
  return ParseHex(line.substr(0, dash), &range->begin) &&
         ParseHex(line.substr(dash + 1, space - dash - 1), &range->end);
}

}  // namespace

std::vector<AddressRange> CleanMappingsWithin(std::string_view smaps,
                                              const std::vector<AddressRange>& segments) {
  std::vector<AddressRange> clean;
  AddressRange mapping;
  bool inside = false;  // the current mapping lies within one of `segments`
  bool written = true;  // until its Anonymous line says otherwise
  auto close_mapping = [&] {
    if (inside && !written) clean.push_back(mapping);
  };
  while (!smaps.empty()) {
    size_t newline = smaps.find('\n');
    std::string_view line = smaps.substr(0, newline);
    smaps.remove_prefix(newline == std::string_view::npos ? smaps.size() : newline + 1);
    AddressRange header;
    if (ParseMappingHeader(line, &header)) {
      close_mapping();
      mapping = header;
      inside = false;
      written = true;
      for (const AddressRange& segment : segments) {
        inside |= segment.begin <= header.begin && header.end <= segment.end;
      }
    } else if (line.substr(0, 10) == "Anonymous:") {
      std::string_view value = line.substr(10);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      written = value.substr(0, 4) != "0 kB";
    }
  }
  close_mapping();
  return clean;
}

uint64_t ReleaseStartupPages() {
  std::string smaps;
  if (!ReadSmaps(&smaps)) return 0;
  uint64_t released = 0;
  for (const AddressRange& range : CleanMappingsWithin(smaps, ReadOnlySegments())) {
    void* begin = reinterpret_cast<void*>(range.begin);
    size_t length = range.end - range.begin;
    // Advice only: a refusal leaves the pages mapped, which is where they were.
    if (madvise(begin, length, MADV_DONTNEED) == 0) released += length;
  }
  return released;
}

}  // namespace tend::startup
