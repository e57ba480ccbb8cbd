#!/usr/bin/env bash
# Every GPU measurement of the project in one go (<= 8 minutes), printed as one Markdown table.
#
#   bash benchmarks/gpu.sh                          # on a CUDA machine; JSON to $OUT/gpu_bench.json if $OUT is set
#   bash benchmarks/gpu.sh --smoke --json t.json    # CPU, tiny sizes (CI: tests/benchmarks/test_gpu_smoke.py)
#   bash benchmarks/gpu.sh --only face,compile      # a subset (groups: face compile motion joyvasa train e2e)
#
# Python: $PYTHON if set, else .venv-ci/bin/python if present, else python3. Works offline: nothing is
# downloaded or installed; torch (and transformers for the JoyVASA / audio-encoder rows) must be there.
# The rows, budgets and output are described in benchmarks/gpu.py and benchmarks/gpu_plan.py.
set -u
cd "$(dirname "$0")/.." || exit 2

if [ -n "${PYTHON:-}" ]; then
    PY="$PYTHON"
elif [ -x .venv-ci/bin/python ]; then
    PY=.venv-ci/bin/python
else
    PY=python3
fi

if ! command -v "$PY" >/dev/null 2>&1; then
    echo "benchmarks/gpu.sh: no Python interpreter '$PY' (set PYTHON=/path/to/python)" >&2
    exit 2
fi

"$PY" - <<'EOF' || exit 2
import platform, sys
try:
    import torch
except ImportError as exc:
    sys.exit(f"benchmarks/gpu.sh: torch is not importable with {sys.executable} ({exc}); "
             f"set PYTHON to an interpreter that has torch")
cuda = torch.cuda.is_available()
print(f"python {platform.python_version()} ({sys.executable}), torch {torch.__version__}, "
      f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version() if cuda else None}", flush=True)
print("GPU: " + (", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda
                 else "none (torch.cuda.is_available() is False)"), flush=True)
for name in ("transformers", "safetensors", "cv2", "skimage", "mediapipe", "yaml"):
    try:
        mod = __import__(name)
        print(f"  {name} {getattr(mod, '__version__', '?')}")
    except Exception as exc:  # noqa: BLE001 - report, do not stop: the rows that need it will fail
        print(f"  {name} missing ({type(exc).__name__})")
EOF

exec "$PY" benchmarks/gpu.py "$@"
