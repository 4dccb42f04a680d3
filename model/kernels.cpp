// Dispatch: validates the weight view, picks a row kernel for the CPU level,
// quantizes activations once per call, and tiles the work over the pool.
#include "model/kernels.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/activation_quant.h"
#include "model/kernels_internal.h"
#include "model/quant_blocks.h"

namespace tinyrag {
namespace {

using kernels::KernelTable;
using kernels::kMaxActs;
using kernels::RowDotFn;

struct Tables {
  KernelTable level[3] = {};
  kernels::ActivationQuantizers quant[3];
};

const Tables& GetTables() {
  static const Tables tables = [] {
    Tables t;
    kernels::FillScalarKernels(t.level[0]);
    t.quant[0] = {&QuantizeActivations32, &QuantizeActivationsK};
    const CpuFeatures& f = DetectCpuFeatures();
    t.quant[1] = t.quant[2] = t.quant[0];
    if (f.avx2) {
      kernels::FillAvx2ActivationQuantizers(t.quant[1]);
      t.quant[2] = t.quant[1];
      kernels::FillAvx2QuantKernels(t.level[1]);
      kernels::FillAvx2FloatKernels(t.level[1]);
    }
    // The AVX-512 quant kernels are written around VPDPBUSD.
    if (f.avx512 && f.avx512_vnni) {
      kernels::FillAvx512QuantKernels(t.level[2]);
      kernels::FillAvx512QuadKernels(t.level[2]);
    }
    if (f.avx512) kernels::FillAvx512FloatKernels(t.level[2]);
    return t;
  }();
  return tables;
}

bool IsFloatType(GgmlType t) {
  return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16;
}

bool UsesSuperBlocks(GgmlType t) { return Traits(t).block_elems == kQK_K; }

CpuLevel CapLevel(const KernelOptions& o) {
  const CpuLevel active = ActiveCpuLevel();
  return o.max_level && *o.max_level < active ? *o.max_level : active;
}

struct RowKernel {
  RowDotFn fn = nullptr;
  kernels::RowsDotFn rows = nullptr;  // may be null
  bool quads = false;                 // reads ActQuad32 activation rows
};

// The kernel for (type, mode) at the highest level <= cap that has one.
RowKernel FindKernel(GgmlType type, ActivationMode mode, CpuLevel cap, CpuLevel* used) {
  const Tables& t = GetTables();
  const int id = static_cast<int>(type);
  for (int l = static_cast<int>(cap); l >= 0; --l) {
    const kernels::TypeKernels& k = t.level[l][id];
    const bool q8 = mode == ActivationMode::kQ8;
    if (RowDotFn fn = q8 ? k.q8 : k.f32; fn != nullptr) {
      if (used) *used = static_cast<CpuLevel>(l);
      return {fn, q8 ? k.q8_rows : nullptr, q8 && k.q8_quads};
    }
  }
  return {};
}

// Per-thread scratch for quantized activations; grows to the largest call.
std::vector<uint8_t>& ActScratch() {
  thread_local std::vector<uint8_t> scratch;
  return scratch;
}

// Most chunks a decode-sized call is split into.
constexpr int kMaxChunks = 64;

// Splits `rows` rows of `row_bytes` into chunks for `threads` threads, each a
// 1 / (2 * threads) share of the rows not yet given out (at least
// kMinChunkBytes of weights), the last one taking what remains; fills
// bounds[0..chunks] and returns the count.
int GuidedChunks(int64_t rows, int64_t row_bytes, int threads, std::array<int64_t, kMaxChunks + 1>& bounds) {
  constexpr int64_t kMinChunkBytes = 16 << 10;
  const int64_t min_rows = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, row_bytes));
  int chunks = 0;
  bounds[0] = 0;
  for (int64_t at = 0; at < rows;) {
    const int64_t left = rows - at;
    int64_t size = threads == 1 ? left : std::max(min_rows, left / (2 * threads));
    if (chunks == kMaxChunks - 1) size = left;
    at += std::min(size, left);
    bounds[++chunks] = at;
  }
  return chunks;
}

absl::Status CheckCall(const WeightView& w, const float* x, const float* y) {
  if (absl::Status s = CheckWeights(w); !s.ok()) return s;
  if (w.rows > 0 && (x == nullptr || y == nullptr)) {
    return absl::InvalidArgumentError("matvec/matmul: null activation or output pointer");
  }
  return absl::OkStatus();
}

}  // namespace

namespace kernels {
int LevelOffset32(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return 8;
    case GgmlType::kQ5_0: return 16;
    case GgmlType::kQ8_0:
    case GgmlType::kIQ4_NL: return 128;
    default: return 0;
  }
}

void InterleaveQuads(const ActBlock32* blocks, int64_t nb, int offset, ActQuad32* out) {
  for (int64_t q = 0; q < (nb + 3) / 4; ++q) {
    ActQuad32& quad = out[q];
    quad = ActQuad32{};
    for (int64_t j = 0; j < 4 && 4 * q + j < nb; ++j) {
      const ActBlock32& b = blocks[4 * q + j];
      for (int k = 0; k < 4; ++k) std::memcpy(quad.qs[k] + 8 * j, b.qs + 8 * k, 8);
      quad.bias[2 * j] = quad.bias[2 * j + 1] = -(offset / 2) * b.sum;
      quad.d[2 * j] = quad.d[2 * j + 1] = b.d;
      quad.s[j] = b.s;
    }
  }
}

const ActivationQuantizers& ActivationQuantizersFor(CpuLevel level) {
  return GetTables().quant[static_cast<int>(level)];
}
}  // namespace kernels

WeightView DenseWeights(GgmlType type, int64_t rows, int64_t cols, const void* data) {
  return WeightView{type, rows, cols, data, RowBytes(type, cols)};
}

absl::Status CheckWeights(const WeightView& w) {
  const std::optional<TypeTraits> traits = FindTypeTraits(static_cast<uint32_t>(w.type));
  if (!traits || static_cast<int>(w.type) >= kernels::kNumTypeIds ||
      GetTables().level[0][static_cast<int>(w.type)].f32 == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weights: no kernel for tensor type ", traits ? std::string(traits->name) : "unknown", " (id ",
        static_cast<uint32_t>(w.type), ")"));
  }
  if (w.rows < 0) return absl::InvalidArgumentError(absl::StrCat("weights: rows = ", w.rows));
  if (w.cols <= 0 || w.cols % traits->block_elems != 0) {
    return absl::InvalidArgumentError(absl::StrCat("weights: cols = ", w.cols,
                                                   " is not a positive multiple of ",
                                                   traits->block_elems, " for ", std::string(traits->name)));
  }
  if (w.rows > 0 && w.data == nullptr) return absl::InvalidArgumentError("weights: null data");
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  if (w.row_stride < row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("weights: row stride ", w.row_stride,
                                                   " is below the row size ", row_bytes));
  }
  return absl::OkStatus();
}

ActivationMode ResolveActivationMode(GgmlType type, ActivationMode requested) {
  if (IsFloatType(type)) return ActivationMode::kF32;
  return requested == ActivationMode::kAuto ? ActivationMode::kQ8 : requested;
}

CpuLevel KernelLevel(GgmlType type, ActivationMode mode, const KernelOptions& options) {
  CpuLevel used = CpuLevel::kScalar;
  FindKernel(type, ResolveActivationMode(type, mode), CapLevel(options), &used);
  return used;
}

absl::Status MatVec(const WeightView& w, const float* x, float* y, ThreadPool* pool,
                    const KernelOptions& options) {
  return MatMul(w, x, 1, y, pool, options);
}

absl::Status MatMul(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool* pool,
                    const KernelOptions& options) {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("matmul: n = ", n));
  if (absl::Status s = CheckCall(w, x, y); !s.ok()) return s;
  if (n == 0 || w.rows == 0) return absl::OkStatus();

  const ActivationMode mode = ResolveActivationMode(w.type, options.activations);
  const CpuLevel cap = CapLevel(options);
  if (mode == ActivationMode::kQ8 && n >= kernels::kPanelMinActs && cap == CpuLevel::kAvx512 &&
      DetectCpuFeatures().avx512_vnni) {
    if (const kernels::PanelKernels* panel = kernels::Avx512PanelKernels(w.type)) {
      kernels::PanelMatMul(*panel, kernels::ActivationQuantizersFor(cap), w, x, n, y, pool);
      return absl::OkStatus();
    }
  }
  const RowKernel kernel = FindKernel(w.type, mode, cap, nullptr);
  const RowDotFn fn = kernel.fn;
  const int threads = pool ? pool->num_threads() : 1;
  auto parallel = [&](int64_t tasks, auto&& body) {
    if (pool) {
      pool->ParallelFor(tasks, [&](int64_t t, int) { body(t); });
    } else {
      for (int64_t t = 0; t < tasks; ++t) body(t);
    }
  };

  // Activation rows as the kernels see them: f32 rows, or quantized rows.
  const void* act_base = x;
  int64_t act_stride = w.cols * static_cast<int64_t>(sizeof(float));
  if (mode == ActivationMode::kQ8) {
    const bool k = UsesSuperBlocks(w.type);
    const int64_t nb = w.cols / kQK;
    const int64_t block_row_bytes = nb * static_cast<int64_t>(sizeof(ActBlock32));
    act_stride = k ? (w.cols / kQK_K) * static_cast<int64_t>(sizeof(BlockQ8_K))
                   : kernel.quads ? (nb + 3) / 4 * static_cast<int64_t>(sizeof(kernels::ActQuad32))
                                  : block_row_bytes;
    // Quads are built from ActBlock32 rows kept after them in the scratch.
    const int64_t bytes = n * act_stride + (kernel.quads ? n * block_row_bytes : 0);
    std::vector<uint8_t>& scratch = ActScratch();
    if (static_cast<int64_t>(scratch.size()) < bytes + 64) scratch.resize(bytes + 64);
    // 64-byte alignment keeps the 32-byte loads of ActBlock32 within lines
    // (and ActQuad32 needs it).
    uint8_t* base = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
    const kernels::ActivationQuantizers& quant = kernels::ActivationQuantizersFor(cap);
    const int offset = kernels::LevelOffset32(w.type);
    auto quantize_row = [&](int64_t i) {
      const float* xi = x + i * w.cols;
      uint8_t* dst = base + i * act_stride;
      if (k) {
        quant.super_block(xi, w.cols, reinterpret_cast<BlockQ8_K*>(dst));
      } else if (kernel.quads) {
        auto* blocks = reinterpret_cast<ActBlock32*>(base + n * act_stride + i * block_row_bytes);
        quant.block32(xi, w.cols, blocks);
        kernels::InterleaveQuads(blocks, nb, offset, reinterpret_cast<kernels::ActQuad32*>(dst));
      } else {
        auto* blocks = reinterpret_cast<ActBlock32*>(dst);
        quant.block32(xi, w.cols, blocks);
        for (int64_t b = 0; b < nb; ++b) blocks[b].lane_bias = -(offset / 8) * blocks[b].sum;
      }
    };
    if (n == 1) {
      quantize_row(0);  // microseconds: not worth waking the pool
    } else {
      parallel(n, quantize_row);
    }
    act_base = base;
  }

  const uint8_t* wbase = static_cast<const uint8_t*>(w.data);
  const uint8_t* abase = static_cast<const uint8_t*>(act_base);
  // Runs rows [r0, r1) against activation rows [i0, i1), in groups of
  // kMaxActs so each weight row is decoded once per group; the row range is
  // small enough to stay in cache across the groups.
  auto run_tile = [&](int64_t r0, int64_t r1, int64_t i0, int64_t i1) {
    const void* acts[kMaxActs];
    float out[kMaxActs];
    for (int64_t ig = i0; ig < i1; ig += kMaxActs) {
      const int na = static_cast<int>(std::min<int64_t>(kMaxActs, i1 - ig));
      for (int a = 0; a < na; ++a) acts[a] = abase + (ig + a) * act_stride;
      if (kernel.rows) {
        kernel.rows(w, r0, r1, acts, na, y + ig * w.rows, w.rows);
        continue;
      }
      for (int64_t r = r0; r < r1; ++r) {
        fn(wbase + r * w.row_stride, acts, na, w.cols, out);
        for (int a = 0; a < na; ++a) y[(ig + a) * w.rows + r] = out[a];
      }
    }
  };

  if (n <= 2 * kMaxActs) {
    // Matvec, or one decode step of up to kMaxActs sequences: one group of
    // activation rows, weight rows in chunks claimed dynamically. Chunks
    // shrink as the rows run out (each a 1 / (2 * threads) share of what is
    // left, down to ~16 KB of weights): a few claims, and the threads finish
    // within a small chunk of each other. Equal chunks left one thread
    // idling for half a chunk on average at the end of every call.
    std::array<int64_t, kMaxChunks + 1> bounds;
    const int chunks = GuidedChunks(w.rows, w.row_stride, threads, bounds);
    parallel(chunks, [&](int64_t c) { run_tile(bounds[c], bounds[c + 1], 0, n); });
    return absl::OkStatus();
  }
  // Matmul: tiles of kRowTile weight rows x kActTile activation rows.
  constexpr int64_t kRowTile = 16;
  constexpr int64_t kActTile = 64;
  const int64_t row_tiles = (w.rows + kRowTile - 1) / kRowTile;
  const int64_t act_tiles = (n + kActTile - 1) / kActTile;
  parallel(row_tiles * act_tiles, [&](int64_t t) {
    const int64_t rt = t / act_tiles, at = t % act_tiles;
    run_tile(rt * kRowTile, std::min(w.rows, (rt + 1) * kRowTile), at * kActTile,
             std::min(n, (at + 1) * kActTile));
  });
  return absl::OkStatus();
}

}  // namespace tinyrag
