#!/bin/sh
# Usage: skip_if_absent.sh PATH COMMAND [ARG...]
# Runs COMMAND when PATH exists; otherwise says why and exits 77, which ctest
# reports as a skipped test (SKIP_RETURN_CODE 77), not a failure.
if [ ! -e "$1" ]; then
  echo "SKIP: fixtures not found at $1 (../shared/fixtures beside the checkout)"
  exit 77
fi
shift
exec "$@"
