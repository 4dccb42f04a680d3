#include "model/cpu_features.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace tinyrag {
namespace {

// Set before any test runs (static initialization precedes main), so the
// first ActiveCpuLevel() call reads it: this process checks the cap.
const bool kCapSet = [] {
  setenv("TINYRAG_CPU", "avx2", /*overwrite=*/1);
  return true;
}();

TEST(CpuFeaturesTest, LevelNamesRoundTrip) {
  for (CpuLevel l : {CpuLevel::kScalar, CpuLevel::kAvx2, CpuLevel::kAvx512}) {
    EXPECT_EQ(ParseCpuLevel(CpuLevelName(l)), l);
  }
  EXPECT_EQ(ParseCpuLevel("sse2"), std::nullopt);
  EXPECT_EQ(ParseCpuLevel(""), std::nullopt);
  EXPECT_EQ(ParseCpuLevel("AVX2"), std::nullopt);  // names are lower case
}

TEST(CpuFeaturesTest, FeaturesAreConsistent) {
  const CpuFeatures& f = DetectCpuFeatures();
  if (f.avx512) {
    EXPECT_TRUE(f.avx2);
  }
  if (f.avx512_vnni || f.avx512_bf16) {
    EXPECT_TRUE(f.avx512);
  }
  const CpuLevel hw = HardwareCpuLevel();
  EXPECT_EQ(hw == CpuLevel::kAvx512, f.avx512);
  EXPECT_EQ(hw >= CpuLevel::kAvx2, f.avx2);
}

TEST(CpuFeaturesTest, EnvironmentCapsTheActiveLevel) {
  ASSERT_TRUE(kCapSet);
  const CpuLevel hw = HardwareCpuLevel();
  const CpuLevel expected = hw < CpuLevel::kAvx2 ? hw : CpuLevel::kAvx2;
  EXPECT_EQ(ActiveCpuLevel(), expected);
}

#if defined(__x86_64__)
// /proc/cpuinfo is the kernel's view of the same bits; when it is readable,
// the detected AVX2 support must agree with it.
TEST(CpuFeaturesTest, AgreesWithProcCpuinfo) {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) GTEST_SKIP() << "/proc/cpuinfo not readable";
  char line[8192];
  bool has_avx2 = false, has_fma = false, has_f16c = false, has_bmi2 = false, found = false;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "flags", 5) != 0) continue;
    found = true;
    const std::string s = std::string(line) + " ";
    has_avx2 = s.find(" avx2 ") != std::string::npos;
    has_fma = s.find(" fma ") != std::string::npos;
    has_f16c = s.find(" f16c ") != std::string::npos;
    has_bmi2 = s.find(" bmi2 ") != std::string::npos;
    break;
  }
  std::fclose(f);
  if (!found) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  EXPECT_EQ(DetectCpuFeatures().avx2, has_avx2 && has_fma && has_f16c && has_bmi2);
}
#endif

}  // namespace
}  // namespace tinyrag
