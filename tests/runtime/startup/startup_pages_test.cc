#include "runtime/startup/startup_pages.h"

#include "gtest/gtest.h"

namespace tend::startup {
namespace {

// Two mappings of a binary's text and rodata, one with a page written (a breakpoint), and
// the stack, in the form /proc/self/smaps has.
constexpr char kSmaps[] =
    "00400000-00401000 r--p 00000000 fe:00 42   /usr/bin/tend\n"
    "Size:                  4 kB\n"
    "Anonymous:             0 kB\n"
    "00401000-00aca000 r-xp 00001000 fe:00 42   /usr/bin/tend\n"
    "Size:               7204 kB\n"
    "Rss:                1084 kB\n"
    "Anonymous:             0 kB\n"
    "VmFlags: rd ex mr mw me\n"
    "00aca000-00ccd000 r--p 006ca000 fe:00 42   /usr/bin/tend\n"
    "Anonymous:             4 kB\n"
    "7ffd6b392000-7ffd6b3b3000 rw-p 00000000 00:00 0   [stack]\n"
    "Anonymous:           132 kB\n";

TEST(CleanMappingsWithin, KeepsOnlyUnwrittenMappingsInsideTheSegments) {
  std::vector<AddressRange> clean =
      CleanMappingsWithin(kSmaps, {{0x400000, 0xaca000}, {0xaca000, 0xccd000}});
  ASSERT_EQ(clean.size(), 2u);
  EXPECT_EQ(clean[0].begin, 0x400000u);
  EXPECT_EQ(clean[0].end, 0x401000u);
  EXPECT_EQ(clean[1].begin, 0x401000u);
  EXPECT_EQ(clean[1].end, 0xaca000u);  // the rodata mapping has a written page: kept
}

TEST(CleanMappingsWithin, LeavesWhatLiesOutsideOrOverlapsTheSegments) {
  EXPECT_TRUE(CleanMappingsWithin(kSmaps, {{0x500000, 0x600000}}).empty());
  EXPECT_TRUE(CleanMappingsWithin(kSmaps, {{0x7ffd6b392000, 0x7ffd6b3b3000}}).empty());
}

TEST(CleanMappingsWithin, AMappingWithoutAnAnonymousLineCountsAsWritten) {
  EXPECT_TRUE(CleanMappingsWithin("00400000-00401000 r--p 0 fe:00 42 x\nSize: 4 kB\n",
                                  {{0x400000, 0x401000}})
                  .empty());
  EXPECT_TRUE(CleanMappingsWithin("", {{0x400000, 0x401000}}).empty());
  EXPECT_TRUE(CleanMappingsWithin("garbage-\nno header here\n", {{0, ~uintptr_t{0}}}).empty());
}

// The test program's own read-only segments: released, and the program runs on from pages
// mapped back. (What that saves is measured on tend itself: tests/integration/test_lean_init.)
TEST(ReleaseStartupPages, UnmapsCleanPagesOfTheProgramWhichRunsOn) {
  EXPECT_GT(ReleaseStartupPages(), 0u);
  EXPECT_GT(ReleaseStartupPages(), 0u);  // again: the pages mapped back are still clean
}

}  // namespace
}  // namespace tend::startup
