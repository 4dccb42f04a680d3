// AVX2+FMA build of the encoder ops (compiled with -mavx2 -mfma; called only
// after ActiveOps() has checked the CPU).
#include "embed/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tinyrag::embed::ops_avx2 {
#include "embed/ops_impl.inc"
extern const EncoderOps kOps;
const EncoderOps kOps = {AddLayerNorm, GeluRows, SoftmaxRows};
}  // namespace tinyrag::embed::ops_avx2
