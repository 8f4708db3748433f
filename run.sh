#!/usr/bin/env bash
# netflowd's one entry point on a fresh Debian 12 machine.
#
#   ./run.sh          install what is missing, build (release), run the demo: replay the bundled
#                     capture through netflowd into a local nfcapd and show what it stored
#   ./run.sh test     install what is missing, build with sanitizers, run the whole test suite
#   ./run.sh build    install and build only (build/release)
#   ./run.sh bench    install, build (release) and run the micro benchmarks
#   ./run.sh fuzz [SECONDS] [TARGET...]
#                     install, build the libFuzzer targets (clang) and fuzz each for SECONDS
#                     (default 60), keeping what they find in build/fuzz/corpus (tests/fuzz/README.md)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

PACKAGES=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libpcap-dev libmnl-dev                         # capture files, rtnetlink
  libsnmp-dev snmpd snmp                         # SNMP agent (netflowd-snmp), its test's snmpd and snmpget/walk
  libgtest-dev libgmock-dev libbenchmark-dev     # tests and benchmarks
  nfdump tshark pmacct                           # independent decoders used by the tests and the demo
  python3 iproute2 procps clang-format ethtool   # test scripts, ss, format check, lo offloads
  iptables nftables iputils-ping conntrack       # live-capture lab tests (network namespaces; conntrack: NAT events)
  netsniff-ng                                    # trafgen: traffic generator of the live benchmark (bench/live)
  softflowd valgrind                             # peer benchmark (bench/peers) and its profile
  clang libclang-rt-14-dev                       # fuzz targets (libFuzzer; tests/fuzz/)
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    [[ $p == \#* ]] && continue
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {  # build DIR [cmake options...]
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

# The fuzz targets, built by Clang with libFuzzer, AddressSanitizer and UBSan (tests/fuzz/README.md).
build_fuzz() {
  cmake -S "$ROOT" -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNETFLOWD_SANITIZE=ON -DNETFLOWD_FUZZ=ON -DNETFLOWD_TESTS=OFF -DNETFLOWD_BENCH=OFF >/dev/null
  cmake --build build/fuzz -j "$(nproc)" --target fuzz_all
}

demo() {
  build build/release -DCMAKE_BUILD_TYPE=Release -DNETFLOWD_TESTS=ON
  "$ROOT/scripts/demo.sh" "$ROOT/build/release/src/app/netflowd" "$ROOT/data/demo.pcap"
}

case "${1:-}" in
  "")
    install_deps
    demo
    ;;
  build)
    install_deps
    build build/release -DCMAKE_BUILD_TYPE=Release
    ;;
  test)
    install_deps
    build_fuzz
    build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETFLOWD_SANITIZE=ON -DNETFLOWD_WERROR=ON \
      -DNETFLOWD_FUZZ_BIN="$ROOT/build/fuzz/tests/fuzz"
    cd build/test
    ctest --output-on-failure -j "$(nproc)" --timeout 600
    ;;
  bench)
    install_deps
    build build/release -DCMAKE_BUILD_TYPE=Release
    "$ROOT/build/release/bench/netflowd_bench"
    ;;
  fuzz)
    install_deps
    build_fuzz
    seconds=${2:-60}
    shift $(( $# < 2 ? $# : 2 ))
    targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(packet pcap_file conntrack config control)
    for t in "${targets[@]}"; do
      mkdir -p "build/fuzz/corpus/$t" "build/fuzz/artifacts/$t"
      echo "run.sh: fuzzing $t for ${seconds} s (corpus build/fuzz/corpus/$t)" >&2
      "build/fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$t/" "build/fuzz/corpus/$t" "tests/fuzz/corpus/$t"
    done
    ;;
  *)
    echo "usage: ./run.sh [test|build|bench|fuzz [SECONDS] [TARGET...]]" >&2
    exit 2
    ;;
esac
