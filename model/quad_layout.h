// The quad layout of 32-value weight blocks: a decoder's Q4_0, Q5_0 and Q8_0
// matrices are rewritten into it once at load time so the AVX-512 decode
// kernels (kernels_quad_avx512.cpp) load each group of four blocks with a few
// straight vector loads instead of gathering and shuffling the GGML blocks.
//
// A row of nb blocks (nb a multiple of 4) becomes nb / 4 quads of the same
// total size as the four blocks. Let v[k][p] (k, p < 4, 32) be the unsigned
// level of value 8k + p % 8 of block p / 8 (the level plus 8 for Q4_0, plus 16
// for Q5_0, plus 128 for Q8_0). A quad holds, in order:
//   Q4_0 (72 bytes):  d[4] f16, then 64 bytes: byte p (< 32) = v[0][p] | v[2][p] << 4,
//                     byte 32 + p = v[1][p] | v[3][p] << 4;
//   Q5_0 (88 bytes):  d[4] f16, then four 32-bit words: bit p of word k is bit 4
//                     of v[k][p]; then the 64 bytes of Q4_0 for the low 4 bits;
//   Q8_0 (136 bytes): d[4] f16, then v[0], v[1], v[2], v[3] as 32 bytes each.
// The rows keep their size, so a row still starts at r * RowBytes(type, cols).
#pragma once

#include <cstdint>

#include "model/tensor_type.h"

namespace tinyrag {

// True for the types that have a quad layout (Q4_0, Q5_0, Q8_0).
bool HasQuadLayout(GgmlType type);

// Bytes of one quad of `type` (4 blocks); requires HasQuadLayout(type).
int64_t QuadBytes(GgmlType type);

// Rewrites one row of `cols` values (cols a multiple of 128) from GGML
// blocks at `src` into the quad layout at `dst`, and back. src and dst
// must not overlap; both hold RowBytes(type, cols) bytes.
void GgmlRowToQuads(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols);
void QuadsRowToGgml(GgmlType type, const uint8_t* src, uint8_t* dst, int64_t cols);

}  // namespace tinyrag
