#!/usr/bin/env bash
# Build .triton-carry/: what dev/gpu/device_triton_cuda_shm.sh needs on a GPU machine that has
# Python 3.12, numpy, onnxruntime and cuda-bindings but no network, in one xz archive:
#
#   site-packages/pytriton/tritonserver/  the tritonserver binary, the Python backend (with the
#                                          Python 3.12 stub) and the local cache, from the
#                                          nvidia-pytriton wheel of `make triton-server`
#   site-packages/nvidia_pytriton.libs/   the libraries they link (not the 3.13 libpython)
#   site-packages/...                     tritonclient[grpc,http], pytest and numpy 1.26 for
#                                          cp312, their wheels unpacked (xz packs the files
#                                          better than the wheels' zip). numpy 1.26: this
#                                          server's Python backend returns empty outputs with
#                                          numpy 2 (pytriton 0.7.0 pins numpy < 2 for it)
#   models/                               the shipped model's repository, Python-backend runtime
#                                          (the python-torch repository of the GPU model is
#                                          written on the device, which has onnx and torch)
#   fallback/libpython3.12.so.1.0         for a device Python built without a shared libpython
#
# usage: dev/gpu/make_triton_carry.sh
# Environment: PYTHON (a Python with onnx and onnxruntime: default .venv/bin/python),
#   YOLO_TRT_ROS_TRITON_VENV (the server's venv: default .triton-venv), PY312 (a Python 3.12
#   whose pip downloads the wheels: default python3.12), WHEELS (a folder that already holds
#   the wheels: skips the download), NO_HTTP=1 (leave tritonclient[http]'s wheels out),
#   NO_FALLBACK_LIBPYTHON=1 (leave the libpython out), NO_STRIP=1 (keep the symbol tables
#   of the shared libraries and executables; stripped, the archive is about 40% smaller).
# Prints the archive's size; the machine takes at most 64 MiB of carried files in all.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
PYTHON=${PYTHON:-$repo/.venv/bin/python}
VENV=${YOLO_TRT_ROS_TRITON_VENV:-$repo/.triton-venv}
PY312=${PY312:-python3.12}
out=$repo/.triton-carry
step() { echo "=== [${SECONDS}s] $*"; }

site=$(ls -d "$VENV"/lib/python3*/site-packages)
server=$site/pytriton/tritonserver
[[ -x $server/bin/tritonserver ]] || { echo "no tritonserver in $site: make triton-server" >&2; exit 2; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

step "server from $server"
dst=$stage/site-packages/pytriton/tritonserver
mkdir -p "$dst/bin" "$dst/backends/python" "$dst/caches/local"
cp "$server/bin/tritonserver" "$dst/bin/"
cp "$server/backends/python/libtriton_python.so" \
    "$server/backends/python/triton_python_backend_utils.py" "$dst/backends/python/"
cp "$server/python_backend_stubs/3.12/triton_python_backend_stub" "$dst/backends/python/"
cp "$server/caches/local/libtritoncache_local.so" "$dst/caches/local/"
mkdir -p "$stage/site-packages/nvidia_pytriton.libs"
for lib in "$site"/nvidia_pytriton.libs/*; do
    case "$(basename "$lib")" in
        libpython3-*) ;;  # the 3.13 stub's libpython: the device runs the 3.12 stub
        *) cp "$lib" "$stage/site-packages/nvidia_pytriton.libs/" ;;
    esac
done

step "model repository (Python-backend runtime) with $PYTHON"
PYTHONPATH=$repo "$PYTHON" - "$stage/models" <<'EOF'
import sys
from pathlib import Path

sys.path.insert(0, 'test')
import triton_server  # noqa: E402

triton_server.write_repository(Path(sys.argv[1]))
print(sorted(str(p.relative_to(sys.argv[1])) for p in Path(sys.argv[1]).rglob('*') if p.is_file()))
EOF

step "wheels for cp312"
wheels=$stage/wheels
mkdir -p "$wheels"
pins=(numpy==1.26.4 tritonclient==2.73.0 ml-dtypes==0.5.4 grpcio==1.85.3 protobuf==6.33.6 python-rapidjson==1.25
    urllib3==2.8.0 packaging==26.4 pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 pygments==2.21.0)
if [[ ${NO_HTTP:-0} != 1 ]]; then  # tritonclient[http]: about 8 MiB more
    pins+=(aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiosignal==1.4.0 attrs==26.1.0
        frozenlist==1.8.0 multidict==7.2.1 propcache==0.5.4 yarl==1.25.1 idna==3.20
        typing-extensions==4.16.0 gevent==26.9.0 geventhttpclient==2.6.1 greenlet==3.3.2
        zope.event==6.2 zope.interface==8.7 brotli==1.2.1 certifi==2026.10.19.post1)
fi
if [[ -n ${WHEELS:-} ]]; then
    cp "$WHEELS"/*.whl "$wheels/"
else
    "$PY312" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform any -d "$wheels" "${pins[@]}"
fi
# a wheel is a zip of its files in site-packages layout
"$PY312" - "$stage/site-packages" "$wheels"/*.whl <<'EOF'
import sys
import zipfile

for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])
    print('unpacked', wheel.rsplit('/', 1)[-1])
EOF
rm -rf "$wheels"

if [[ ${NO_FALLBACK_LIBPYTHON:-0} != 1 ]]; then
    lib=$("$PY312" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')/libpython3.12.so.1.0
    if [[ -f $lib ]]; then
        step "fallback libpython from $lib"
        mkdir -p "$stage/fallback"
        cp "$lib" "$stage/fallback/"
    else
        step "no $lib: no fallback libpython"
    fi
fi

if [[ ${NO_STRIP:-0} != 1 ]]; then
    step "strip the symbol tables (strip --strip-unneeded)"
    du -sb "$stage" | awk '{printf "before: %.1f MiB\n", $1 / 1048576}'
    find "$stage" -type f \( -name '*.so' -o -name '*.so.*' -o -name tritonserver \
        -o -name triton_python_backend_stub \) -print0 | xargs -0 strip --strip-unneeded
fi

step "archive"
(cd "$stage" && find . -type f | sort | xargs sha256sum) > "$stage.sha256"
mv "$stage.sha256" "$stage/MANIFEST.sha256"
rm -rf "$out"
mkdir -p "$out"
tar -C "$stage" -cf - . | xz -9e -T1 > "$out/triton-carry.tar.xz"
cp "$stage/MANIFEST.sha256" "$out/"
du -sb "$stage" | awk '{printf "uncompressed: %.1f MiB\n", $1 / 1048576}'
du -sb "$out" | awk '{printf "carry %s: %.1f MiB (limit 64 MiB for all carried files)\n", "'"$out"'", $1 / 1048576}'
