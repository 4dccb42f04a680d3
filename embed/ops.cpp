// Baseline (SSE2) build of the encoder ops and the run-time choice between
// this build and the AVX2 one.
#include "embed/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "model/cpu_features.h"

namespace tinyrag::embed {
namespace ops_baseline {
#include "embed/ops_impl.inc"
const EncoderOps kOps = {AddLayerNorm, GeluRows, SoftmaxRows};
}  // namespace ops_baseline

namespace ops_avx2 {
extern const EncoderOps kOps;  // ops_avx2.cpp
}  // namespace ops_avx2

const EncoderOps& BaselineOps() { return ops_baseline::kOps; }

const EncoderOps& ActiveOps() {
  static const EncoderOps& ops = ActiveCpuLevel() >= CpuLevel::kAvx2 ? ops_avx2::kOps : ops_baseline::kOps;
  return ops;
}

}  // namespace tinyrag::embed
