// Drives the panel kernels (kernels_panel_avx512.cpp) for prefill-sized
// products: quantizes every activation row once into PanelActChunks, then each
// task packs one panel of weight rows into a per-thread buffer and runs it
// against all activation rows, so a weight is decoded once per call however
// many rows the batch has.
#include <algorithm>
#include <cstring>
#include <vector>

#include "model/kernels_internal.h"

namespace tinyrag::kernels {
namespace {

// Per-thread buffers, grown to the largest call and kept.
struct PanelScratch {
  std::vector<uint8_t> acts;   // the caller's: PanelActChunks of all rows
  std::vector<uint8_t> row;    // quantized activation row (ActBlock32 or BlockQ8_K)
  std::vector<uint8_t> panel;  // one packed panel
};

PanelScratch& Scratch() {
  thread_local PanelScratch scratch;
  return scratch;
}

uint8_t* Aligned64(std::vector<uint8_t>& buf, size_t bytes) {
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  uint8_t* p = buf.data();
  return p + (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64;
}

void PrepareRow32(const PanelKernels& k, const ActBlock32* blocks, int64_t nblocks,
                  PanelActChunk* out) {
  for (int64_t b = 0; b < nblocks; ++b) {
    PanelActChunk& c = out[b];
    std::memcpy(c.qs, blocks[b].qs, sizeof c.qs);
    c.bias[0] = -k.act_offset * blocks[b].sum;
    c.bias[1] = 0;
    c.d = blocks[b].d;
    c.s = blocks[b].s;
    c.bsum_pair = 0;
  }
}

void PrepareRowK(const PanelKernels& k, const BlockQ8_K* blocks, int64_t nsuper,
                 PanelActChunk* out) {
  for (int64_t b = 0; b < nsuper; ++b) {
    const BlockQ8_K& y = blocks[b];
    for (int c = 0; c < 8; ++c) {
      PanelActChunk& o = out[8 * b + c];
      std::memcpy(o.qs, y.qs + 32 * c, sizeof o.qs);
      const int32_t lo = y.bsums[2 * c], hi = y.bsums[2 * c + 1];
      if (k.act_groups_of_16) {
        o.bias[0] = -k.act_offset * lo;
        o.bias[1] = -k.act_offset * hi;
      } else {
        o.bias[0] = -k.act_offset * (lo + hi);
        o.bias[1] = 0;
      }
      o.d = y.d;
      o.s = 0.0f;
      o.bsum_pair = static_cast<int32_t>(static_cast<uint16_t>(lo) |
                                         static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16);
    }
  }
}

}  // namespace

void PanelMatMul(const PanelKernels& k, const ActivationQuantizers& quant, const WeightView& w,
                 const float* x, int64_t n, float* y, ThreadPool* pool) {
  const int64_t chunks = w.cols / kQK;
  PanelActChunk* acts = reinterpret_cast<PanelActChunk*>(
      Aligned64(Scratch().acts, static_cast<size_t>(n * chunks) * sizeof(PanelActChunk)));
  auto prepare = [&](int64_t i, int) {
    const float* xi = x + i * w.cols;
    PanelActChunk* out = acts + i * chunks;
    std::vector<uint8_t>& row = Scratch().row;
    if (k.super_blocks) {
      const int64_t nsuper = w.cols / kQK_K;
      if (row.size() < nsuper * sizeof(BlockQ8_K)) row.resize(nsuper * sizeof(BlockQ8_K));
      auto* q = reinterpret_cast<BlockQ8_K*>(row.data());
      quant.super_block(xi, w.cols, q);
      PrepareRowK(k, q, nsuper, out);
    } else {
      if (row.size() < chunks * sizeof(ActBlock32)) row.resize(chunks * sizeof(ActBlock32));
      auto* q = reinterpret_cast<ActBlock32*>(row.data());
      quant.block32(xi, w.cols, q);
      PrepareRow32(k, q, chunks, out);
    }
  };
  const int64_t panels = (w.rows + kPanelRows - 1) / kPanelRows;
  const size_t panel_bytes = static_cast<size_t>(k.panel_bytes(w.cols));
  auto run_panel = [&](int64_t p, int) {
    const int64_t r0 = p * kPanelRows;
    const int rows = static_cast<int>(std::min<int64_t>(kPanelRows, w.rows - r0));
    uint8_t* panel = Aligned64(Scratch().panel, panel_bytes);
    k.pack(w, r0, rows, panel);
    k.multiply(panel, w.cols, acts, n, y + r0, w.rows, rows);
  };
  if (pool != nullptr) {
    pool->ParallelFor(n, prepare);
    pool->ParallelFor(panels, run_panel);
  } else {
    for (int64_t i = 0; i < n; ++i) prepare(i, 0);
    for (int64_t p = 0; p < panels; ++p) run_panel(p, 0);
  }
}

}  // namespace tinyrag::kernels
