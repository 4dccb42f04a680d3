// Dispatch: validates the weight view, picks a row kernel for the CPU level,
// quantizes activations once per call, and tiles the work over the pool.
#include "model/kernels.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/activation_quant.h"
#include "model/kernels_internal.h"
#include "model/quad_layout.h"
#include "model/quant_blocks.h"
#include "model/quantize.h"

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

// Rows of `cols` values of `type` can be stored in the quad layout.
bool FitsQuadLayout(GgmlType type, int64_t cols) { return HasQuadLayout(type) && cols % (4 * kQK) == 0; }

CpuLevel CapLevel(const KernelOptions& o) {
  const CpuLevel active = ActiveCpuLevel();
  return o.max_level && *o.max_level < active ? *o.max_level : active;
}

struct RowKernel {
  RowDotFn fn = nullptr;
  kernels::RowsDotFn rows = nullptr;  // may be null
  bool quads = false;                 // reads ActQuad32 activation rows
  // Reads GGML rows but the weights are in the quad layout: they are
  // converted back a few rows at a time.
  bool converts = false;
};

// The kernel for weights of `type` in `layout` under `mode`, at the highest
// level <= cap that has one.
RowKernel FindKernel(GgmlType type, WeightLayout layout, ActivationMode mode, CpuLevel cap, CpuLevel* used) {
  const Tables& t = GetTables();
  const int id = static_cast<int>(type);
  const bool q8 = mode == ActivationMode::kQ8;
  if (layout == WeightLayout::kQuads && q8) {
    for (int l = static_cast<int>(cap); l >= 0; --l) {
      const kernels::TypeKernels& k = t.level[l][id];
      if (k.quad_layout != nullptr) {
        if (used) *used = static_cast<CpuLevel>(l);
        return {k.quad_layout, k.quad_layout_rows, true, false};
      }
    }
  }
  for (int l = static_cast<int>(cap); l >= 0; --l) {
    const kernels::TypeKernels& k = t.level[l][id];
    if (RowDotFn fn = q8 ? k.q8 : k.f32; fn != nullptr) {
      if (used) *used = static_cast<CpuLevel>(l);
      return {fn, q8 ? k.q8_rows : nullptr, q8 && k.q8_quads, layout == WeightLayout::kQuads};
    }
  }
  return {};
}

// Per-thread scratch for quantized activations; grows to the largest call.
std::vector<uint8_t>& ActScratch() {
  thread_local std::vector<uint8_t> scratch;
  return scratch;
}

// Per-thread GGML copies of quad-layout rows, for code that reads GGML rows.
std::vector<uint8_t>& ConvertScratch() {
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
  if (w.layout == WeightLayout::kQuads && !FitsQuadLayout(w.type, w.cols)) {
    return absl::InvalidArgumentError(absl::StrCat("weights: no quad layout for ", std::string(traits->name),
                                                   " rows of ", w.cols, " values"));
  }
  return absl::OkStatus();
}

bool PrefersQuadLayout(const WeightView& w) {
  if (w.layout != WeightLayout::kGgml || !FitsQuadLayout(w.type, w.cols)) return false;
  const RowKernel k = FindKernel(w.type, WeightLayout::kQuads, ActivationMode::kQ8, ActiveCpuLevel(), nullptr);
  return k.fn != nullptr && !k.converts;
}

WeightView CopyToQuadLayout(const WeightView& w, uint8_t* dst) {
  WeightView out = DenseWeights(w.type, w.rows, w.cols, dst);
  out.layout = WeightLayout::kQuads;
  const uint8_t* src = static_cast<const uint8_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    GgmlRowToQuads(w.type, src + r * w.row_stride, dst + r * out.row_stride, w.cols);
  }
  return out;
}

void DequantizeWeightRow(const WeightView& w, int64_t r, float* out) {
  const uint8_t* row = static_cast<const uint8_t*>(w.data) + r * w.row_stride;
  if (w.layout == WeightLayout::kQuads) {
    std::vector<uint8_t>& ggml = ConvertScratch();
    ggml.resize(std::max<size_t>(ggml.size(), RowBytes(w.type, w.cols)));
    QuadsRowToGgml(w.type, row, ggml.data(), w.cols);
    row = ggml.data();
  }
  DequantizeRow(w.type, row, out, w.cols);
}

ActivationMode ResolveActivationMode(GgmlType type, ActivationMode requested) {
  if (IsFloatType(type)) return ActivationMode::kF32;
  return requested == ActivationMode::kAuto ? ActivationMode::kQ8 : requested;
}

CpuLevel KernelLevel(GgmlType type, ActivationMode mode, const KernelOptions& options) {
  CpuLevel used = CpuLevel::kScalar;
  FindKernel(type, WeightLayout::kGgml, ResolveActivationMode(type, mode), CapLevel(options), &used);
  return used;
}

absl::Status MatVec(const WeightView& w, const float* x, float* y, ThreadPool* pool,
                    const KernelOptions& options) {
  return MatMul(w, x, 1, y, pool, options);
}

namespace {

// Runs body(t) for t < tasks on the pool (or inline without one).
template <class Body>
void Parallel(ThreadPool* pool, int64_t tasks, Body&& body) {
  if (pool) {
    pool->ParallelFor(tasks, [&](int64_t t, int) { body(t); });
  } else {
    for (int64_t t = 0; t < tasks; ++t) body(t);
  }
}

// One weight matrix of a row-kernel call and its activation rows as the
// kernel reads them: f32 rows, or quantized rows in the scratch.
struct RowJob {
  const WeightView* w = nullptr;
  RowKernel kernel;
  ActivationMode mode = ActivationMode::kF32;
  const uint8_t* acts = nullptr;
  int64_t act_stride = 0;
  float* y = nullptr;
};

// What decides the quantized activation layout: jobs with equal keys can
// share one quantization of the same input.
struct ActFormat {
  ActivationMode mode;
  bool super_blocks;
  bool quads;
  int offset;
  int64_t cols;
  bool operator==(const ActFormat&) const = default;
};

ActFormat FormatOf(const RowJob& j) {
  return {j.mode, UsesSuperBlocks(j.w->type), j.kernel.quads, kernels::LevelOffset32(j.w->type), j.w->cols};
}

// Bytes per activation row of the kernel's format, and extra bytes per row
// the quads are built from.
int64_t ActRowBytes(const ActFormat& f) {
  const int64_t nb = f.cols / kQK;
  if (f.super_blocks) return (f.cols / kQK_K) * static_cast<int64_t>(sizeof(BlockQ8_K));
  if (f.quads) return (nb + 3) / 4 * static_cast<int64_t>(sizeof(kernels::ActQuad32));
  return nb * static_cast<int64_t>(sizeof(ActBlock32));
}
int64_t ActBuildBytes(const ActFormat& f) {
  return f.quads ? (f.cols / kQK) * static_cast<int64_t>(sizeof(ActBlock32)) : 0;
}

// Quantizes the n rows of x into `dst` in format f (`build`: scratch for the
// quads' source blocks).
void QuantizeActs(const ActFormat& f, CpuLevel cap, const float* x, int64_t n, uint8_t* dst, uint8_t* build,
                  ThreadPool* pool) {
  const int64_t stride = ActRowBytes(f), build_stride = ActBuildBytes(f), nb = f.cols / kQK;
  const kernels::ActivationQuantizers& quant = kernels::ActivationQuantizersFor(cap);
  auto row = [&](int64_t i) {
    const float* xi = x + i * f.cols;
    uint8_t* out = dst + i * stride;
    if (f.super_blocks) {
      quant.super_block(xi, f.cols, reinterpret_cast<BlockQ8_K*>(out));
    } else if (f.quads) {
      auto* blocks = reinterpret_cast<ActBlock32*>(build + i * build_stride);
      quant.block32(xi, f.cols, blocks);
      kernels::InterleaveQuads(blocks, nb, f.offset, reinterpret_cast<kernels::ActQuad32*>(out));
    } else {
      auto* blocks = reinterpret_cast<ActBlock32*>(out);
      quant.block32(xi, f.cols, blocks);
      for (int64_t b = 0; b < nb; ++b) blocks[b].lane_bias = -(f.offset / 8) * blocks[b].sum;
    }
  };
  // A decode step's few short rows take microseconds: not worth a round
  // trip through the pool.
  constexpr int64_t kSerialValues = 8192;
  if (n * f.cols <= kSerialValues) {
    for (int64_t i = 0; i < n; ++i) row(i);
  } else {
    Parallel(pool, n, row);
  }
}

// Fills every job's activation rows from x (n rows): quantized once per
// distinct format into this thread's scratch, or x itself in f32 mode.
void PrepareActs(std::span<RowJob> jobs, CpuLevel cap, const float* x, int64_t n, ThreadPool* pool) {
  // Layout: each distinct format's rows, then its quad build area, 64-aligned.
  auto align = [](int64_t b) { return (b + 63) / 64 * 64; };
  std::array<ActFormat, kMaxSharedWeights> formats;
  std::array<int64_t, kMaxSharedWeights> offsets{};
  std::array<int, kMaxSharedWeights> format_of{};  // per job
  int count = 0;
  int64_t bytes = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (jobs[j].mode != ActivationMode::kQ8) continue;
    const ActFormat f = FormatOf(jobs[j]);
    int k = 0;
    while (k < count && !(formats[k] == f)) ++k;
    if (k == count) {
      formats[count] = f;
      offsets[count++] = bytes;
      bytes += align(n * ActRowBytes(f)) + align(n * ActBuildBytes(f));
    }
    format_of[j] = k;
  }
  std::vector<uint8_t>& scratch = ActScratch();
  if (static_cast<int64_t>(scratch.size()) < bytes + 64) scratch.resize(bytes + 64);
  // 64-byte alignment keeps the 32-byte loads of ActBlock32 within lines
  // (and ActQuad32 needs it).
  uint8_t* base = scratch.data() + (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64;
  for (int k = 0; k < count; ++k) {
    uint8_t* dst = base + offsets[k];
    QuantizeActs(formats[k], cap, x, n, dst, dst + align(n * ActRowBytes(formats[k])), pool);
  }
  for (size_t j = 0; j < jobs.size(); ++j) {
    RowJob& job = jobs[j];
    if (job.mode == ActivationMode::kQ8) {
      job.acts = base + offsets[format_of[j]];
      job.act_stride = ActRowBytes(formats[format_of[j]]);
    } else {
      job.acts = reinterpret_cast<const uint8_t*>(x);
      job.act_stride = job.w->cols * static_cast<int64_t>(sizeof(float));
    }
  }
}

// Rows [r0, r1) of w against the job's activation rows [i0, i1), in groups
// of kMaxActs so each weight row is decoded once per group; the row range is
// small enough to stay in cache across the groups. y[i * y_stride + r].
void RunRows(const RowJob& job, const WeightView& w, int64_t r0, int64_t r1, int64_t i0, int64_t i1, float* y,
             int64_t y_stride) {
  const uint8_t* wbase = static_cast<const uint8_t*>(w.data);
  const void* acts[kMaxActs];
  float out[kMaxActs];
  for (int64_t ig = i0; ig < i1; ig += kMaxActs) {
    const int na = static_cast<int>(std::min<int64_t>(kMaxActs, i1 - ig));
    for (int a = 0; a < na; ++a) acts[a] = job.acts + (ig + a) * job.act_stride;
    if (job.kernel.rows) {
      job.kernel.rows(w, r0, r1, acts, na, y + ig * y_stride, y_stride);
      continue;
    }
    for (int64_t r = r0; r < r1; ++r) {
      job.kernel.fn(wbase + r * w.row_stride, acts, na, w.cols, out);
      for (int a = 0; a < na; ++a) y[(ig + a) * y_stride + r] = out[a];
    }
  }
}

// Rows [r0, r1) of the job's weights against activation rows [i0, i1).
void RunTile(const RowJob& job, int64_t r0, int64_t r1, int64_t i0, int64_t i1) {
  const WeightView& w = *job.w;
  if (!job.kernel.converts) return RunRows(job, w, r0, r1, i0, i1, job.y, w.rows);
  constexpr int64_t kConvertRows = 16;
  const int64_t row_bytes = RowBytes(w.type, w.cols);
  std::vector<uint8_t>& ggml = ConvertScratch();
  if (static_cast<int64_t>(ggml.size()) < kConvertRows * row_bytes) ggml.resize(kConvertRows * row_bytes);
  for (int64_t s = r0; s < r1; s += kConvertRows) {
    const int64_t e = std::min(r1, s + kConvertRows);
    for (int64_t r = s; r < e; ++r) {
      QuadsRowToGgml(w.type, static_cast<const uint8_t*>(w.data) + r * w.row_stride,
                     ggml.data() + (r - s) * row_bytes, w.cols);
    }
    RunRows(job, DenseWeights(w.type, e - s, w.cols, ggml.data()), 0, e - s, i0, i1, job.y + s, w.rows);
  }
}

// Decode-sized calls (n <= 2 * kMaxActs): one group of activation rows, the
// weights' rows in chunks claimed dynamically in one ParallelFor for all the
// jobs. Chunks shrink as each matrix's rows run out (a 1 / (2 * threads)
// share of what is left, down to ~16 KB of weights), so the threads finish
// within a small chunk of each other; equal chunks left one thread idling
// for half a chunk on average at the end of every call.
void RunDecodeSized(std::span<const RowJob> jobs, int64_t n, ThreadPool* pool) {
  const int threads = pool ? pool->num_threads() : 1;
  struct Chunk {
    int job;
    int64_t r0, r1;
  };
  std::array<Chunk, kMaxSharedWeights * kMaxChunks> chunks;
  int count = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    std::array<int64_t, kMaxChunks + 1> bounds;
    const int c = GuidedChunks(jobs[j].w->rows, jobs[j].w->row_stride, threads, bounds);
    for (int i = 0; i < c; ++i) chunks[count++] = {static_cast<int>(j), bounds[i], bounds[i + 1]};
  }
  // Largest first across the jobs: the small chunks of every matrix end the
  // call. (std::sort, not stable_sort: that one may allocate, per call.)
  auto bytes = [&](const Chunk& c) { return (c.r1 - c.r0) * jobs[c.job].w->row_stride; };
  std::sort(chunks.begin(), chunks.begin() + count, [&](const Chunk& a, const Chunk& b) {
    const int64_t ba = bytes(a), bb = bytes(b);
    return ba != bb ? ba > bb : a.job != b.job ? a.job < b.job : a.r0 < b.r0;
  });
  Parallel(pool, count, [&](int64_t t) {
    const Chunk& c = chunks[t];
    RunTile(jobs[c.job], c.r0, c.r1, 0, n);
  });
}

// The panel path for (w, mode, n) under cap, or nullptr.
const kernels::PanelKernels* PanelFor(const WeightView& w, ActivationMode mode, int64_t n, CpuLevel cap) {
  if (mode == ActivationMode::kQ8 && n >= kernels::kPanelMinActs && cap == CpuLevel::kAvx512 &&
      DetectCpuFeatures().avx512_vnni) {
    return kernels::Avx512PanelKernels(w.type);
  }
  return nullptr;
}

}  // namespace

absl::Status MatMul(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool* pool,
                    const KernelOptions& options) {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("matmul: n = ", n));
  if (absl::Status s = CheckCall(w, x, y); !s.ok()) return s;
  if (n == 0 || w.rows == 0) return absl::OkStatus();

  const ActivationMode mode = ResolveActivationMode(w.type, options.activations);
  const CpuLevel cap = CapLevel(options);
  if (const kernels::PanelKernels* panel = PanelFor(w, mode, n, cap)) {
    kernels::PanelMatMul(*panel, kernels::ActivationQuantizersFor(cap), w, x, n, y, pool);
    return absl::OkStatus();
  }
  RowJob job{&w, FindKernel(w.type, w.layout, mode, cap, nullptr), mode, nullptr, 0, y};
  PrepareActs({&job, 1}, cap, x, n, pool);
  if (n <= 2 * kMaxActs) {
    RunDecodeSized({&job, 1}, n, pool);
    return absl::OkStatus();
  }
  // Matmul: tiles of kRowTile weight rows x kActTile activation rows.
  constexpr int64_t kRowTile = 16;
  constexpr int64_t kActTile = 64;
  const int64_t row_tiles = (w.rows + kRowTile - 1) / kRowTile;
  const int64_t act_tiles = (n + kActTile - 1) / kActTile;
  Parallel(pool, row_tiles * act_tiles, [&](int64_t t) {
    const int64_t rt = t / act_tiles, at = t % act_tiles;
    RunTile(job, rt * kRowTile, std::min(w.rows, (rt + 1) * kRowTile), at * kActTile,
            std::min(n, (at + 1) * kActTile));
  });
  return absl::OkStatus();
}

absl::Status MatMulShared(std::span<const WeightView> ws, const float* x, int64_t n, std::span<float* const> ys,
                          ThreadPool* pool, const KernelOptions& options) {
  if (ws.size() != ys.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("matmul: ", ws.size(), " weight matrices but ", ys.size(), " outputs"));
  }
  if (ws.size() > kMaxSharedWeights) {
    return absl::InvalidArgumentError(
        absl::StrCat("matmul: ", ws.size(), " weight matrices; at most ", kMaxSharedWeights, " share an input"));
  }
  for (size_t i = 0; i < ws.size(); ++i) {
    if (ws[i].cols != ws[0].cols) {
      return absl::InvalidArgumentError(absl::StrCat("matmul: shared input, but weight ", i, " has ", ws[i].cols,
                                                     " columns and weight 0 has ", ws[0].cols));
    }
  }
  if (n > 2 * kMaxActs || n <= 0) {
    // Prefill-sized (panel path or tiles): one call each loses nothing.
    for (size_t i = 0; i < ws.size(); ++i) {
      if (absl::Status s = MatMul(ws[i], x, n, ys[i], pool, options); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  const CpuLevel cap = CapLevel(options);
  std::array<RowJob, kMaxSharedWeights> jobs;
  size_t count = 0;
  for (size_t i = 0; i < ws.size(); ++i) {
    if (absl::Status s = CheckCall(ws[i], x, ys[i]); !s.ok()) return s;
    if (ws[i].rows == 0) continue;
    const ActivationMode mode = ResolveActivationMode(ws[i].type, options.activations);
    jobs[count++] = {&ws[i], FindKernel(ws[i].type, ws[i].layout, mode, cap, nullptr), mode, nullptr, 0, ys[i]};
  }
  PrepareActs({jobs.data(), count}, cap, x, n, pool);
  RunDecodeSized({jobs.data(), count}, n, pool);
  return absl::OkStatus();
}

}  // namespace tinyrag
