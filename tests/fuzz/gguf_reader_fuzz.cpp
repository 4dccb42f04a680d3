// libFuzzer target for the GGUF reader (built and run by tests/fuzz/run_fuzz.sh).
//
// Any input must give either an error or a file whose every accessor is safe.
// For files that parse, a second property is checked: writing the parsed
// content with GgufWriter and parsing it again reaches a fixed point, so the
// reader and the writer agree on every value type and tensor layout.
#include <cstddef>
#include <cstdint>
#include <span>

#include "model/gguf.h"

namespace {

// Rebuilds `file` through the writer; false if the writer refuses some part.
bool Rewrite(const tinyrag::GgufFile& file, std::vector<uint8_t>* out) {
  tinyrag::GgufWriter writer(file.version(), file.alignment());
  for (const tinyrag::GgufKeyValue& kv : file.metadata()) writer.SetValue(kv.key, kv.value);
  for (const tinyrag::GgufTensorInfo& t : file.tensors()) {
    std::span<const uint8_t> data = file.TensorData(t);
    if (!writer.AddTensor(t.name, t.type, t.shape, std::vector<uint8_t>(data.begin(), data.end())).ok()) {
      return false;
    }
  }
  if (!writer.status().ok()) return false;
  *out = writer.Serialize();
  return true;
}

volatile uint64_t g_sink;  // keeps the accessor calls below from being optimized away

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = tinyrag::GgufFile::FromBuffer(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!parsed.ok()) return 0;
  const tinyrag::GgufFile& file = **parsed;

  uint64_t sum = file.architecture().size();
  for (const tinyrag::GgufKeyValue& kv : file.metadata()) {
    if (file.Find(kv.key) == nullptr) __builtin_trap();
    sum += file.GetInt(kv.key).ok() + file.GetFloat(kv.key).ok() + file.GetString(kv.key).ok() +
           file.GetBool(kv.key).ok();
    if (auto a = file.GetArray(kv.key); a.ok()) sum += (*a)->size();
  }
  for (const tinyrag::GgufTensorInfo& t : file.tensors()) {
    if (file.FindTensor(t.name) != &t) __builtin_trap();
    std::span<const uint8_t> bytes = file.TensorData(t);
    if (bytes.size() != t.nbytes) __builtin_trap();
    if (!bytes.empty()) sum += bytes.front() + bytes.back();  // ASan checks both ends
    sum += static_cast<uint64_t>(t.num_elements() + t.rows());
  }
  g_sink = sum;

  // A legal but huge alignment (up to 2^31) would make the rewritten file that
  // large in memory; the round trip is checked for realistic alignments only.
  if (file.alignment() > 4096) return 0;
  std::vector<uint8_t> once, twice;
  if (!Rewrite(file, &once)) return 0;
  auto reparsed = tinyrag::GgufFile::FromBuffer(once, "rewritten.gguf");
  if (!reparsed.ok()) __builtin_trap();  // the writer produced a file the reader rejects
  if (!Rewrite(**reparsed, &twice) || once != twice) __builtin_trap();
  return 0;
}
