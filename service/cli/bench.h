// `tinyrag bench`: options shared by its modes. bench.cpp parses them and
// runs one mode; each mode lives in its own file (bench_embed.cpp: encoder
// speed with --embed).
#pragma once

#include <string>

namespace tinyrag::cli {

struct BenchArgs {
  std::string model;
  bool embed = false;  // encoder mode
  int n_prompt = 0;    // -p: tokens per input (0: the mode's default)
  int n_gen = 128;     // -n: generated tokens (decoder mode)
  int batch = 32;      // -b: texts per forward pass (encoder mode)
  int threads = 0;     // -t: 0 = all hardware threads
  int reps = 3;        // -r: timed repetitions after one warm-up
  bool json = false;
};

// Encoder throughput: b inputs of p tokens each per pass. Returns the exit status.
int RunEmbedBench(const BenchArgs& args);

// Decoder prefill and decode speed (bench_decode.cpp). Returns the exit status.
int RunDecodeBench(const BenchArgs& args);

}  // namespace tinyrag::cli
