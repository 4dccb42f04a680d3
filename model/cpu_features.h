// Runtime detection of the x86 vector instruction sets the kernels can use.
//
// Detection asks the CPU (cpuid) and the OS (xgetbv: whether it saves the
// AVX / AVX-512 register state on context switches); an instruction set counts
// only when both agree. All functions are thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace tinyrag {

// Kernel levels, ordered: a level implies every lower one.
enum class CpuLevel : int {
  kScalar = 0,  // baseline x86-64 (or any other CPU): portable C++
  kAvx2 = 1,    // AVX2 + FMA + F16C (+ BMI2, which every AVX2 CPU has)
  kAvx512 = 2,  // AVX-512 F/BW/VL/DQ (+ VNNI, BF16 reported separately)
};

struct CpuFeatures {
  bool avx2 = false;         // AVX2, FMA, F16C and BMI2, with OS support for YMM state
  bool avx512 = false;       // AVX-512 F, BW, VL, DQ, with OS support for ZMM state
  bool avx512_vnni = false;  // VPDPBUSD (only meaningful when avx512)
  bool avx512_bf16 = false;  // VDPBF16PS (only meaningful when avx512)
};

// What this CPU and OS support (detected once, cached).
const CpuFeatures& DetectCpuFeatures();

// The highest level the hardware supports, ignoring TINYRAG_CPU.
CpuLevel HardwareCpuLevel();

// The level kernels use: HardwareCpuLevel() capped by the environment variable
// TINYRAG_CPU=scalar|avx2|avx512 when set (read once, at the first call). An
// unknown value, or one above what the hardware supports, does not raise the
// level. The kernels' AVX-512 level needs VNNI too; without it they use AVX2.
CpuLevel ActiveCpuLevel();

// "scalar", "avx2" or "avx512".
std::string_view CpuLevelName(CpuLevel level);

// Parses a CpuLevelName() string; nullopt for anything else.
std::optional<CpuLevel> ParseCpuLevel(std::string_view name);

}  // namespace tinyrag
