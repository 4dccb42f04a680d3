#!/bin/sh
# Usage: debian_python.sh SCRIPT [ARG...]
# Runs SCRIPT with Debian's /usr/bin/python3, the interpreter that has
# python3-numpy (python3 on PATH may be another install). Without it, says why
# and exits 77, which ctest reports as a skipped test (SKIP_RETURN_CODE 77).
if [ ! -x /usr/bin/python3 ]; then
  echo "SKIP: /usr/bin/python3 (Debian's, with python3-numpy) not found"
  exit 77
fi
exec /usr/bin/python3 "$@"
