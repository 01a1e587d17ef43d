#!/usr/bin/env bash
# The prepared accelerator check: one command that shows what this project does on a GPU.
#
#   scripts/gpu_check.sh --out DIR [--dry-run] [--wheels DIR] [--mnist PATH] [--python PY] [--jobs N]
#                        [--step-timeout S]
#
# Steps (each logged to DIR/logs/<step>.log, its status and seconds to DIR/steps.tsv):
#   backend     the backend line; without --dry-run the backend must be a GPU
#   smoke       every experiment's smoke config from the command line (N at a time), DIR/smoke.tsv
#   tests       the precision, solver and likelihood tests on the backend (EBM_JAX_TEST_PLATFORM)
#   precision   the same numbers with and without the precision policy (scripts/precision_check.py)
#   bench_*     VAE epoch, RBM epoch, SimCLR step, lasso, conv sparse coding, S = 8 seeds against
#               sequential, each beside its peer (scripts/bench_*.py --device gpu), DIR/bench_*.json
#   report      DIR/README.md: a markdown table of every step and benchmark (scripts/gpu_check_report.py)
#
# --dry-run runs the same steps on the CPU at smoke sizes (about 9 minutes on two cores): the plan
# and every script's arguments are exercised where no GPU is. A step that runs past --step-timeout
# seconds fails (default 240 on the GPU; 600 in the dry run, which checks the plan, not the speed). --wheels DIR installs the wheels in
# DIR (pure-Python packages the GPU machine lacks) into DIR/../site and puts them on PYTHONPATH;
# --mnist PATH uses the MNIST cache mnist.npz at PATH (the file or its folder). A benchmark whose
# peer library is missing is marked "skipped" with the reason. Exit status: 0 when every step that
# ran passed, 1 otherwise.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT=""
DRY=0
WHEELS=""
MNIST=""
PY=""
JOBS=""
STEP_TIMEOUT=""

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "gpu_check: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="${2:-}"; shift 2 ;;
        --out=*) OUT="${1#*=}"; shift ;;
        --dry-run) DRY=1; shift ;;
        --wheels) WHEELS="${2:-}"; shift 2 ;;
        --mnist) MNIST="${2:-}"; shift 2 ;;
        --python) PY="${2:-}"; shift 2 ;;
        --jobs) JOBS="${2:-}"; shift 2 ;;
        --step-timeout) STEP_TIMEOUT="${2:-}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[ -n "$OUT" ] || die "--out DIR is required (see --help)"
if [ -z "$PY" ]; then
    if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
[ -x "$PY" ] || command -v "$PY" >/dev/null 2>&1 || die "no python at $PY"
case "$JOBS" in ''|*[!0-9]*) [ -z "$JOBS" ] || die "--jobs must be a positive integer, got $JOBS" ;; esac
[ "${JOBS:-1}" -ge 1 ] || die "--jobs must be a positive integer, got $JOBS"

mkdir -p "$OUT/logs" || die "cannot create $OUT"
OUT="$(cd "$OUT" && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
export EBM_JAX_COMPILATION_CACHE_DIR="$OUT/xla_cache"

if [ -n "$WHEELS" ]; then
    [ -d "$WHEELS" ] || die "--wheels $WHEELS is not a folder"
    SITE="$OUT/site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "$WHEELS"/*.whl || die "installing the wheels in $WHEELS failed"
    export PYTHONPATH="$PYTHONPATH:$SITE"
fi
if [ -n "$MNIST" ]; then
    if [ -f "$MNIST" ]; then MNIST_DIR="$(cd "$(dirname "$MNIST")" && pwd)"
        [ "$(basename "$MNIST")" = mnist.npz ] || die "--mnist must name mnist.npz or its folder, got $MNIST"
    elif [ -d "$MNIST" ]; then MNIST_DIR="$(cd "$MNIST" && pwd)"
    else die "--mnist $MNIST does not exist"; fi
    [ -f "$MNIST_DIR/mnist.npz" ] || die "no mnist.npz in $MNIST_DIR"
    export EBM_JAX_DATA="$MNIST_DIR"
fi

if [ "$DRY" = 1 ]; then
    DEVICE=cpu; PLATFORM=cpu; JOBS="${JOBS:-2}"; STEP_TIMEOUT="${STEP_TIMEOUT:-600}"
    export JAX_PLATFORMS=cpu
else
    DEVICE=gpu; PLATFORM=gpu; JOBS="${JOBS:-4}"; STEP_TIMEOUT="${STEP_TIMEOUT:-240}"
    export XLA_PYTHON_CLIENT_PREALLOCATE=false  # the smoke runs share the GPU
fi

printf 'step\tstatus\tseconds\tnote\n' > "$OUT/steps.tsv"
FAILED=0

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >> "$OUT/steps.tsv"; }

# run_step NAME COMMAND...: run with a time limit, log, record; a failure is counted, not fatal.
run_step() {
    local name="$1"; shift
    local start end status
    echo "== $name: $*"
    start=$(date +%s)
    timeout "$STEP_TIMEOUT" "$@" > "$OUT/logs/$name.log" 2>&1
    status=$?
    end=$(date +%s)
    if [ $status -eq 0 ]; then record "$name" ok $((end - start))
    elif [ $status -eq 124 ]; then record "$name" timeout $((end - start)) "over ${STEP_TIMEOUT}s"; FAILED=$((FAILED + 1))
    else record "$name" failed $((end - start)) "exit $status"; FAILED=$((FAILED + 1))
    fi
    tail -n 3 "$OUT/logs/$name.log" | sed 's/^/   /'
}

skip_step() { echo "== $1: skipped ($2)"; record "$1" skipped 0 "$2"; }

have() { "$PY" -c "import $1" >/dev/null 2>&1; }

# --- backend
if [ "$DRY" = 1 ]; then
    run_step backend "$PY" -c "from ebm_jax import environment; print(environment.summary_line())"
else
    run_step backend "$PY" -c "
import sys, jax
from ebm_jax import environment
print(environment.summary_line())
sys.exit(0 if jax.default_backend() == 'gpu' else 'no GPU backend: jax.default_backend() is ' + jax.default_backend())"
fi

# --- every experiment's smoke config, JOBS at a time
smoke_one() {
    local name="$1" start end status
    start=$(date +%s)
    "$PY" -m experiments."$name" --workdir "$OUT/smoke/$name" \
        --config="$ROOT/experiments/configs/$name.py:smoke" > "$OUT/logs/smoke_$name.log" 2>&1
    status=$?
    end=$(date +%s)
    printf '%s\t%s\t%s\n' "$name" "$status" $((end - start))
}
export -f smoke_one
export PY OUT ROOT
EXPERIMENTS=$(cd "$ROOT/experiments/configs" && ls [a-z]*.py | sed 's/\.py$//')
printf 'experiment\texit\tseconds\n' > "$OUT/smoke.tsv"
run_step smoke bash -c "printf '%s\n' $(echo $EXPERIMENTS) | xargs -P $JOBS -I{} bash -c 'smoke_one {}' >> '$OUT/smoke.tsv';
    ! cut -f2 '$OUT/smoke.tsv' | tail -n +2 | grep -qv '^0$'"

# --- the precision, solver and likelihood tests on the backend
if [ "$DRY" = 1 ]; then  # the solver and likelihood tests run in `make test` on the CPU anyway
    TESTS="tests/test_precision.py"
else
    TESTS="tests/test_precision.py tests/test_sparse_solvers.py tests/test_vae.py tests/test_rbm.py"
fi
if have pytest; then
    run_step tests env EBM_JAX_TEST_PLATFORM="$PLATFORM" "$PY" -m pytest -q -p no:cacheprovider \
        --rootdir "$ROOT" $(for t in $TESTS; do echo "$ROOT/$t"; done)
else
    skip_step tests "pytest not installed"
fi

# --- the policy's evidence
run_step precision "$PY" "$ROOT/scripts/precision_check.py" --json "$OUT/precision.json" \
    $([ "$DRY" = 1 ] && echo --quick --time 3 || echo --time 7)

# --- benchmarks beside their peers
bench() {  # bench NAME PEER_MODULE SCRIPT ARGS...
    local name="$1" peer="$2"; shift 2
    if [ -n "$peer" ] && ! have "$peer"; then skip_step "$name" "peer $peer not installed"; return; fi
    run_step "$name" "$PY" "$ROOT/scripts/$1" "${@:2}" --device "$DEVICE" --json "$OUT/$name.json"
}
if [ "$DRY" = 1 ]; then
    bench bench_vae torch bench_vae.py --quick --repeats 3 --batch-size 256 --hidden 64
    bench bench_rbm sklearn bench_rbm.py --quick --repeats 3 --num-train 1000 --hidden 64
    bench bench_ssl torch bench_ssl.py --quick --repeats 3 --steps 1 --batch-size 16
    bench bench_lasso spams bench_solvers.py --quick --repeats 3 --num-examples 50
    bench bench_conv_sparse sporco bench_conv_sparse.py --quick --repeats 3 --batch 1
    bench bench_seeds "" bench_seeds.py --quick --repeats 3 --seeds 1,2 --models horn
else
    bench bench_vae torch bench_vae.py --batch-size 64 --repeats 5
    bench bench_rbm sklearn bench_rbm.py --quick --repeats 5
    bench bench_ssl torch bench_ssl.py --quick --repeats 5
    bench bench_lasso spams bench_solvers.py --quick --repeats 3
    bench bench_conv_sparse sporco bench_conv_sparse.py --quick --repeats 3
    bench bench_seeds "" bench_seeds.py --quick --repeats 3 --seeds 1,8
fi

# --- the report
run_step report "$PY" "$ROOT/scripts/gpu_check_report.py" "$OUT"
echo "gpu_check: $FAILED step(s) failed; table in $OUT/README.md"
[ "$FAILED" -eq 0 ]
