#include "model/cpu_features.h"

#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define TINYRAG_X86 1
#endif

namespace tinyrag {
namespace {

#ifdef TINYRAG_X86
// Reads XCR0 without needing -mxsave for the whole file.
uint64_t ReadXcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures Detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  const bool avx = (c >> 28) & 1;
  const bool fma = (c >> 12) & 1;
  const bool f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = ReadXcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;             // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;           // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = (b >> 5) & 1;
  const bool bmi2 = (b >> 8) & 1;  // the ISA files are built with -mbmi2 too
  const bool avx512f = (b >> 16) & 1;
  const bool avx512dq = (b >> 17) & 1;
  const bool avx512bw = (b >> 30) & 1;
  const bool avx512vl = (b >> 31) & 1;
  const bool vnni = (c >> 11) & 1;
  f.avx2 = ymm_state && avx2 && fma && f16c && bmi2;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512_vnni = f.avx512 && vnni;
  unsigned a1, b1, c1, d1;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avx512_bf16 = f.avx512 && ((a1 >> 5) & 1);
  return f;
}
#else
CpuFeatures Detect() { return CpuFeatures{}; }
#endif

CpuLevel ComputeActiveLevel() {
  CpuLevel level = HardwareCpuLevel();
  if (const char* env = std::getenv("TINYRAG_CPU")) {
    if (std::optional<CpuLevel> cap = ParseCpuLevel(env); cap && *cap < level) level = *cap;
  }
  return level;
}

}  // namespace

const CpuFeatures& DetectCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

CpuLevel HardwareCpuLevel() {
  const CpuFeatures& f = DetectCpuFeatures();
  if (f.avx512) return CpuLevel::kAvx512;
  if (f.avx2) return CpuLevel::kAvx2;
  return CpuLevel::kScalar;
}

CpuLevel ActiveCpuLevel() {
  static const CpuLevel level = ComputeActiveLevel();
  return level;
}

std::string_view CpuLevelName(CpuLevel level) {
  switch (level) {
    case CpuLevel::kScalar:
      return "scalar";
    case CpuLevel::kAvx2:
      return "avx2";
    case CpuLevel::kAvx512:
      return "avx512";
  }
  return "scalar";
}

std::optional<CpuLevel> ParseCpuLevel(std::string_view name) {
  for (CpuLevel l : {CpuLevel::kScalar, CpuLevel::kAvx2, CpuLevel::kAvx512}) {
    if (CpuLevelName(l) == name) return l;
  }
  return std::nullopt;
}

}  // namespace tinyrag
