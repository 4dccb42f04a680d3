#!/usr/bin/env bash
# Installs every build and test dependency of tinyrag from Debian's archive.
# Idempotent and non-interactive: packages already present are left alone, and
# apt is only consulted when something is missing. Run as root or with sudo.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  clang-14 libclang-rt-14-dev   # libFuzzer and sanitizer runtimes
  # libraries
  libabsl-dev libicu-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  # knowledge base: store, vector index (faiss pulls in BLAS/LAPACK), index file checksums,
  # PDF and HTML text extraction
  libsqlite3-dev libfaiss-dev libxxhash-dev libpoppler-cpp-dev libgumbo-dev
  # escalation webhook: HTTP client and HMAC signatures; its test runs a loopback HTTP server
  libcurl4-openssl-dev libssl-dev libcpp-httplib-dev
  # server configuration (YAML) and structured logs
  libyaml-cpp-dev libspdlog-dev
  # the gRPC API (proto/): C++ code generation and runtime; Python stubs for interop tests
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  openssl   # the server's TLS test makes a self-signed certificate
  # conformance scripts and reference computations
  python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
