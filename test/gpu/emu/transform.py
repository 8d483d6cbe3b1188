#!/usr/bin/env python3
"""test/gpu/emu/transform.py SRC_DIR OUT_DIR — rewrite the CUDA backend's sources
for the host emulation (test/gpu/emulate.sh): every `k<<<grid, block, ...>>>(args);`
becomes a call of emu_launch / emu_launch_sync (include/cuda_runtime.h), with the
arguments bound at the call (emu_bind) so that a captured launch (CUDA graphs) runs
later with them; it runs
the kernel body on the CPU, blocks of CU_THREADS = 8 threads (real OS threads and
a barrier for kernels that synchronise), and plugin.c defaults to batch_norm = own
because cuDNN's batch norm is not emulated."""
import glob
import os
import re
import sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for f in glob.glob(os.path.join(src, '*')):
    name = os.path.basename(f)
    s = open(f).read()
    if name == 'cuint.h':
        s = s.replace('#define CU_THREADS 256', '#define CU_THREADS 8')
        s = s.replace('#ifdef __CUDACC__', '#if 1')
    if name == 'plugin.c':
        s = s.replace('cu_config cfg = { 0, 0, 0, 1, 1024, CV_F32, 1, 1 };', 'cu_config cfg = { 0, 0, 0, 0, 1024, CV_F32, 1, 1 };')
        s = s.replace('CV_OPT_ENUM_("batch_norm", "cudnn"', 'CV_OPT_ENUM_("batch_norm", "own"')
    if name.endswith('.cu'):
        sync = set()
        for m in re.finditer(r'__global__ static void (\w+)\((.*?)\n}\n', s, flags=re.S):
            if 'cu_block_' in m.group(2) or '__syncthreads' in m.group(2):
                sync.add(m.group(1))
        s = re.sub(r'(\w+)<<<(.*?),\s*(.*?),.*?>>>\((.*?)\);',
                   lambda m: '%s((unsigned)(%s), (unsigned)(%s), emu_bind(%s%s));' % (
                       'emu_launch_sync' if m.group(1) in sync else 'emu_launch', m.group(2), m.group(3), m.group(1),
                       ', ' + m.group(4) if m.group(4).strip() else ''), s, flags=re.S)
        name = name[:-3] + '.cpp'
    open(os.path.join(out, name), 'w').write(s)
open(os.path.join(out, 'emu_globals.cpp'), 'w').write(
    '#include <cuda_runtime.h>\nthread_local emu_dim blockIdx, threadIdx;\nemu_dim blockDim, gridDim;\n'
    'thread_local std::barrier<> *emu_bar;\nemu_graph_s *emu_capture;\nint emu_capture_invalid;\n')
