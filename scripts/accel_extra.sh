#!/bin/sh
# Prints the pip extra of the JAX build for this machine: cpu, cuda12, cuda13 or tpu.
#
#   ACCEL unset or "auto": an NVIDIA GPU when `nvidia-smi -L` lists one (cuda13 for a driver >= 580,
#                          which CUDA 13 needs, else cuda12), a TPU where the TPU runtime's devices are
#                          present (/dev/accel*, or a Google PCI device with /dev/vfio), else cpu.
#   ACCEL=cpu|cuda12|cuda13|tpu: that one. An accelerator build on a machine where that accelerator is
#                          not found is refused (exit 2) unless ACCEL_FORCE=1, e.g. to set up a
#                          GPU venv on a cluster's login node.
#
# Errors are one line on stdout starting with "error:" and exit status 2 (make shows the line).
# NVIDIA_SMI names the nvidia-smi to ask (tests use a stand-in).
set -u
smi="${NVIDIA_SMI:-nvidia-smi}"
accel="${ACCEL:-auto}"

nvidia_gpu() {
    command -v "$smi" >/dev/null 2>&1 && "$smi" -L 2>/dev/null | grep -q '^GPU [0-9]'
}

cuda_extra() {
    major=$("$smi" --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1 | cut -d. -f1)
    case "$major" in
        ''|*[!0-9]*) echo cuda12 ;;
        *) if [ "$major" -ge 580 ]; then echo cuda13; else echo cuda12; fi ;;
    esac
}

tpu_present() {
    ls /dev/accel[0-9]* >/dev/null 2>&1 && return 0
    [ -d /dev/vfio ] && command -v lspci >/dev/null 2>&1 && lspci -n 2>/dev/null | grep -q ' 1ae0:'
}

case "$accel" in
    auto|"")
        if nvidia_gpu; then cuda_extra
        elif tpu_present; then echo tpu
        else echo cpu
        fi ;;
    cpu) echo cpu ;;
    cuda12|cuda13)
        if nvidia_gpu || [ "${ACCEL_FORCE:-0}" = 1 ]; then echo "$accel"
        else echo "error: ACCEL=$accel but '$smi -L' lists no NVIDIA GPU here; set ACCEL_FORCE=1 to install it anyway (JAX then runs on the CPU where no GPU is found), or ACCEL=cpu"; exit 2
        fi ;;
    tpu)
        if tpu_present || [ "${ACCEL_FORCE:-0}" = 1 ]; then echo tpu
        else echo "error: ACCEL=tpu but no TPU device (/dev/accel*, or a Google PCI device) is present here; set ACCEL_FORCE=1 to install it anyway, or ACCEL=cpu"; exit 2
        fi ;;
    *) echo "error: unknown ACCEL=$accel (use one of: auto, cpu, cuda12, cuda13, tpu)"; exit 2 ;;
esac
