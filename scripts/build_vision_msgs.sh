#!/usr/bin/env bash
# Build the vision_msgs interface package (interfaces/vision_msgs) into a venv that holds
# ROS 2 Jazzy from PyPI wheels, unless `import vision_msgs.msg` already works there *and*
# its type support libraries load (import alone can succeed while publishing fails).
#
# usage: scripts/build_vision_msgs.sh <venv> [--force]
# The venv is the ROS prefix: libraries go to <venv>/lib (which the wheels' bootstrapper
# puts on LD_LIBRARY_PATH), the Python package to <venv>/lib/pythonX.Y/site-packages.
set -euo pipefail

venv=$(cd "${1:?usage: build_vision_msgs.sh <venv> [--force]}" && pwd)
force=${2:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"
src="$repo/interfaces/vision_msgs"
build="$venv/build/vision_msgs"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if [[ "$force" != "--force" ]] && "$py" "$repo/scripts/check_vision_msgs.py" >/dev/null 2>&1; then
    echo "vision_msgs: already importable with working type support; nothing to build"
    exit 0
fi

# Tools the interface build needs that pip cannot provide; say which package to install.
missing=()
command -v cmake >/dev/null || missing+=("cmake")
command -v make >/dev/null || missing+=("make")
command -v c++ >/dev/null || command -v g++ >/dev/null || missing+=("g++")
command -v cc >/dev/null || command -v gcc >/dev/null || missing+=("gcc")
if ! "$py" -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
    missing+=("python3-dev (Python.h for $("$py" -c 'import sys; print("python%d.%d" % sys.version_info[:2])'))")
fi
if (( ${#missing[@]} )); then
    echo "vision_msgs: cannot build the interface package; missing: ${missing[*]}" >&2
    echo "  on Debian/Ubuntu: sudo apt-get install cmake make g++ python3-dev" >&2
    exit 1
fi

echo "vision_msgs: building from $src into $venv (about a minute on 2 cores)"
"$py" -m pip install --quiet --disable-pip-version-check -r "$repo/requirements-build.txt"
"$py" "$repo/scripts/patch_rosidl_exports.py" "$venv"

# The wheels' bootstrapper re-executes Python with LD_LIBRARY_PATH set; the code generators
# run as subprocesses of CMake, so give them the same view of the prefix up front.
export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PATH="$venv/bin:$PATH"
export LD_LIBRARY_PATH="$venv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

rm -rf "$build"
mkdir -p "$venv/build"
cmake -S "$src" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$venv" \
    -DBUILD_TESTING=OFF \
    -DPython3_EXECUTABLE="$py" \
    -DPYTHON_EXECUTABLE="$py" \
    -DPython3_FIND_VIRTUALENV=ONLY \
    -Wno-dev >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
# One retry serially: a parallel build of generated sources once failed here without a
# reproducible cause (a heavily loaded shared box); a real error fails again and is shown.
if ! cmake --build "$build" -j "$jobs" >"$build.build.log" 2>&1; then
    grep -E -m 20 'error|Error' "$build.build.log" >&2 || true
    echo "vision_msgs: parallel build failed; retrying with -j1 (log: $build.build.log)" >&2
    cmake --build "$build" -j 1 >"$build.build-retry.log" 2>&1 || { tail -n 80 "$build.build-retry.log"; exit 1; }
fi
cmake --install "$build" >"$build.install.log" 2>&1 || { tail -n 40 "$build.install.log"; exit 1; }

"$py" "$repo/scripts/check_vision_msgs.py"
