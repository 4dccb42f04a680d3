#include "embed/gemm.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "model/cpu_features.h"
#include "model/quantize.h"
#include "model/tensor_type.h"

namespace tinyrag::embed {

#include "embed/gemm_impl.inc"

// gemm_avx2.cpp (compiled with -mavx2 -mfma; used only after the CPU check
// below). A 12 x 16 AVX-512 tile measured slower than this one on Zen 4 (which
// splits 512-bit FMAs in two), so AVX-512 CPUs use it too.
void PanelKernelAvx2(const float* panel, const float* x, int64_t ldx, int64_t cols, int m, float* y, int64_t ldy,
                     const float* bias, int valid);

PanelKernel ActivePanelKernel() {
  if (ActiveCpuLevel() >= CpuLevel::kAvx2) return {PanelKernelAvx2, 6};
  return {PanelKernelPortable, kPortableRows};
}

absl::StatusOr<PackedMatrix> PackWeights(const WeightView& w) {
  if (absl::Status s = CheckWeights(w); !s.ok()) return s;
  if (!CanConvert(w.type)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot decode weights of type ", std::string(TypeName(w.type))));
  }
  PackedMatrix p;
  p.rows = w.rows;
  p.cols = w.cols;
  const int64_t n_panels = (w.rows + kPanel - 1) / kPanel;
  p.panels.assign(static_cast<size_t>(n_panels * w.cols * kPanel), 0.0f);
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    DequantizeRow(w.type, static_cast<const uint8_t*>(w.data) + r * w.row_stride, row.data(), w.cols);
    float* dst = p.panels.data() + (r / kPanel) * w.cols * kPanel + r % kPanel;
    for (int64_t c = 0; c < w.cols; ++c) dst[c * kPanel] = row[c];
  }
  return p;
}

void PackedMatMul(const PackedMatrix& w, const float* x, int64_t n, float* y, const float* bias, ThreadPool* pool) {
  if (n <= 0) return;
  const PanelKernel kernel = ActivePanelKernel();
  const int64_t n_panels = (w.rows + kPanel - 1) / kPanel;
  // A task is a block of tokens times a block of panels: the x block
  // (tokens x cols) stays in L2 while the panels stream past it, and each
  // panel is reused from L1 for every 6-row group of the block.
  constexpr int64_t kTokenBlock = 48;  // a multiple of every tile height
  constexpr int64_t kPanelBlock = 4;
  const int64_t n_tblocks = (n + kTokenBlock - 1) / kTokenBlock;
  const int64_t n_pblocks = (n_panels + kPanelBlock - 1) / kPanelBlock;
  auto run = [&](int64_t task, int) {
    const int64_t tb = task / n_pblocks, pb = task % n_pblocks;
    const int64_t t_end = std::min(n, (tb + 1) * kTokenBlock);
    const int64_t p_end = std::min(n_panels, (pb + 1) * kPanelBlock);
    for (int64_t p = pb * kPanelBlock; p < p_end; ++p) {
      const float* panel = w.panels.data() + p * w.cols * kPanel;
      const int valid = static_cast<int>(std::min(kPanel, w.rows - p * kPanel));
      for (int64_t t = tb * kTokenBlock; t < t_end; t += kernel.rows) {
        const int m = static_cast<int>(std::min<int64_t>(kernel.rows, t_end - t));
        kernel.fn(panel, x + t * w.cols, w.cols, w.cols, m, y + t * w.rows + p * kPanel, w.rows, bias + p * kPanel,
               valid);
      }
    }
  };
  if (pool == nullptr) {
    for (int64_t task = 0; task < n_tblocks * n_pblocks; ++task) run(task, 0);
  } else {
    pool->ParallelFor(n_tblocks * n_pblocks, run);
  }
}

}  // namespace tinyrag::embed
