#!/usr/bin/env bash
# Offline side-by-side benchmark of netflowd against softflowd, pmacctd (nfprobe) and nfpcapd,
# with a touch-only ceiling, scaling with concurrent flows, a correctness aside and a callgrind
# profile. Not part of the test suite (only --smoke is, as ctest bench.peers_smoke).
#
#   bench/peers/run.sh            full run (~10 min): 5M-packet mix, 2M-packet SYN flood,
#                                 1k..4M flows, profile; rewrites the results block of
#                                 docs/performance.md
#   bench/peers/run.sh --quick    smaller inputs, no profile (< 3 min); results in
#                                 build/bench-peers/results-quick.md (add --doc to update the doc)
#   bench/peers/run.sh --smoke    each tool once on tiny captures; asserts only that the harness
#                                 works; exit 77 (skip) when a peer is not installed
#
# Options: --netflowd PATH --nfgen PATH (default: build them in build/release), --work DIR
# (default build/bench-peers; captures are cached there), --rounds N, --profile / --no-profile,
# --doc FILE / --no-doc, --results FILE, --only mix,flood,scale,corr,profile (a subset of the
# stages; the doc is then left alone).
# Needs: softflowd, pmacct (pmacctd), nfdump (nfpcapd, nfcapd, nfdump), valgrind (profile),
# python3, g++, libpcap-dev.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

mode=full netflowd="" nfgen="" work="" rounds="" profile="" doc="default" results="" only=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --full) mode=full ;;
    --netflowd) netflowd=$2; shift ;;
    --nfgen) nfgen=$2; shift ;;
    --work) work=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --profile) profile=--profile ;;
    --no-profile) profile=--no-profile ;;
    --doc) doc=$2; shift ;;
    --no-doc) doc="" ;;
    --results) results=$2; shift ;;
    --only) only=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
work=${work:-$ROOT/build/bench-peers}
if [ "$doc" = default ]; then
  if [ "$mode" = full ]; then doc=$ROOT/docs/performance.md; else doc=""; fi
fi

missing=()
for t in softflowd pmacctd nfpcapd nfcapd nfdump python3 g++; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$mode" = smoke ]; then
    echo "SKIP: bench.peers_smoke needs ${missing[*]} (apt-get install softflowd pmacct nfdump)" >&2
    exit 77
  fi
  echo "run.sh: missing ${missing[*]}; those peers are left out" >&2
fi
for t in python3 g++; do
  command -v "$t" >/dev/null 2>&1 || { echo "run.sh: $t is required" >&2; exit 1; }
done

if [ -z "$netflowd" ] || [ -z "$nfgen" ]; then
  echo "run.sh: building netflowd and nfgen (build/release)" >&2
  cmake -S "$ROOT" -B "$ROOT/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$ROOT/build/release" netflowd nfgen >/dev/null
  netflowd=${netflowd:-$ROOT/build/release/src/app/netflowd}
  nfgen=${nfgen:-$ROOT/build/release/tests/gen/nfgen}
fi

# Helpers: compiled here, not by CMake, so the benchmark does not depend on the build's options.
bin=$work/bin
mkdir -p "$bin"
flags=(-std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
build_helper() {  # NAME OPT [LIBS...]
  local name=$1 opt=$2; shift 2
  if [ ! -x "$bin/$name" ] || [ "$HERE/$name.cpp" -nt "$bin/$name" ]; then
    g++ "$opt" "${flags[@]}" -o "$bin/$name.tmp" "$HERE/$name.cpp" "$@"
    mv "$bin/$name.tmp" "$bin/$name"
  fi
}
build_helper measure -O2 -pthread
build_helper synth -O2
build_helper pcapwalk -O3 -lpcap
build_helper firsttouch -O2

want_profile=0
case "$profile" in
  --profile) want_profile=1 ;;
  --no-profile) ;;
  *) [ "$mode" = full ] && want_profile=1 ;;
esac
if [ -n "$only" ] && [[ ,$only, != *,profile,* ]]; then want_profile=0; fi
profile_args=()
if [ $want_profile = 1 ]; then
  if command -v valgrind >/dev/null 2>&1; then
    # Same optimisation as Release, plus debug info so callgrind names inlined code.
    echo "run.sh: building netflowd with -g for the profile (build/bench-profile)" >&2
    cmake -S "$ROOT" -B "$ROOT/build/bench-profile" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g \
      -DNETFLOWD_TESTS=OFF -DNETFLOWD_BENCH=OFF >/dev/null
    ninja -C "$ROOT/build/bench-profile" netflowd >/dev/null
    profile_args=(--profile --profile-netflowd "$ROOT/build/bench-profile/src/app/netflowd")
  else
    echo "run.sh: valgrind missing, no profile" >&2
    profile_args=(--no-profile)
  fi
else
  profile_args=(--no-profile)
fi

args=(--mode "$mode" --netflowd "$netflowd" --nfgen "$nfgen" --bin "$bin" --work "$work" "${profile_args[@]}")
[ -n "$rounds" ] && args+=(--rounds "$rounds")
[ -n "$doc" ] && args+=(--doc "$doc")
[ -n "$results" ] && args+=(--results "$results")
[ -n "$only" ] && args+=(--only "$only")
exec python3 "$HERE/bench.py" "${args[@]}"
