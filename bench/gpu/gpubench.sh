#!/usr/bin/env bash
# GPU side of the benchmarks: gosrppo on GoMLX's XLA backend with JAX's CUDA PJRT plugin, and the
# PyTorch reference on CUDA, on a machine with both installed (run from the repository root).
# Build the Go side first where Go is (cgo, -tags xla; the binary is not committed):
#   go test -c -tags xla -o bench/gpu/bench-xla.test ./bench/
# Raw outputs go to $OUT (default bench/gpu); bench/gpu/table.py turns them into GPU.md.
set -u
OUT=${OUT:-bench/gpu}
P=${XLA_CUDA_PLUGIN_DIR:-$(python3 -c "import jax_plugins.xla_cuda13 as p, os; print(os.path.dirname(p.__file__))")}
export GOMLX_BACKEND="xla:$P/xla_cuda_plugin.so" GOPJRT_CUDA_CHECKS=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, jax; print('torch', torch.__version__, 'jax', jax.__version__)" | tee -a "$OUT/gpu.txt"
(cd bench && for s in d128 d256 d512; do for w in TrainStep Generate Score PPOIteration; do
  timeout 100 gpu/bench-xla.test -test.run XXX -test.bench "^Benchmark$w\$/^$s\$" -test.benchtime 3x -test.timeout 5m 2>&1 |
    grep -E "^Benchmark|FAIL|panic|rror" | head -3
done; done) | tee "$OUT/go-xla.txt"
TORCH_DEVICE=cuda timeout 200 python3 bench/torch_ref.py --reps TrainStep=3,Generate=3,Score=3,PPOIteration=3 \
  --json "$OUT/torch-cuda.json" 2>&1 | tail -14 | tee "$OUT/torch-cuda.txt"
