#!/usr/bin/env bash
# Portability guard: object files compiled for AVX2/AVX-512 (*_avx2.cpp,
# *_avx512.cpp) must define no weak functions (nm type W). An inline function
# or template instantiated there could be picked by the linker for the whole
# program, and plain-x86-64 code would then execute AVX instructions. Weak or
# unique data (types V, u: inline constants, the EH personality reference) is
# the same bytes whatever the ISA and is allowed.
# Usage: isa_symbols_check.sh OBJECT...
set -u
bad=0
checked=0
for obj in "$@"; do
  case "$obj" in *_avx2.cpp.o|*_avx512.cpp.o) ;; *) continue ;; esac
  checked=$((checked + 1))
  weak=$(nm -C "$obj" | awk '$2 == "W" {sub(/^[0-9a-f]* *W /, ""); print}')
  if [ -n "$weak" ]; then
    echo "FAIL $obj defines weak functions (make them static or move them to an anonymous namespace):"
    echo "$weak" | head -20 | sed 's/^/  /'
    bad=1
  fi
done
echo "checked $checked ISA object files"
[ "$checked" -gt 0 ] || { echo "no ISA object files found"; exit 1; }
exit $bad
