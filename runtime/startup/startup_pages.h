#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tend::startup {

struct AddressRange {
  uintptr_t begin = 0;
  uintptr_t end = 0;  // one past the last byte
};

// Unmaps the pages of tend's own binary that its start-up mapped. The kernel maps 64 KiB, or a
// whole page-cache folio, around every page a process touches, so an init that ran a few
// hundred scattered pages of a 9 MiB binary while starting keeps megabytes mapped that it
// never runs again. Called once init mode's command has run a while; the pages its loop
// still runs come back as it touches them, with their neighbours (about 0.5 MiB). The
// pages stay in the page cache, shared with every process that runs the binary; what goes
// is this process's mapping of them, which is what its RSS counts.
//
// Only read-only segments of the binary whose mappings hold no private page (one written
// to, as a debugger's breakpoint is) are released, so nothing written can be lost. Without
// /proc it does nothing. Returns the bytes of address space released.
uint64_t ReleaseStartupPages();
constexpr std::chrono::milliseconds kReleaseStartupPagesAfter{1000};

// The mappings that /proc/self/smaps (`smaps`) shows inside `segments` with no anonymous
// (private, written) page: those that can be dropped and read back unchanged.
std::vector<AddressRange> CleanMappingsWithin(std::string_view smaps,
                                              const std::vector<AddressRange>& segments);

}  // namespace tend::startup
