/** `webgpu-rlhf info`: the adapter, its limits and features, as this tool sees them. */
import type { Command } from 'commander';
import { requestGpu } from '../../gpu/device.ts';
import { describeTuning, tuneMatmulAtStartup } from '../autotune-cache.ts';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the WebGPU adapter, its limits, the features this tool uses and the matmul kernels it runs')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const gpu = await requestGpu();
      const tuning = await tuneMatmulAtStartup(gpu);
      const info = {
        adapter: gpu.name,
        features: { 'timestamp-query': gpu.timestamps, 'shader-f16': gpu.f16 },
        limits: {
          maxStorageBufferBindingSize: gpu.limits.maxBindingBytes,
          maxBufferSize: gpu.limits.maxBufferBytes,
          minStorageBufferOffsetAlignment: gpu.limits.storageOffsetAlignment,
          maxComputeWorkgroupsPerDimension: gpu.limits.maxWorkgroupsPerDimension,
        },
        matmul: { choice: tuning.choice, source: tuning.source, timings: tuning.timings },
      };
      gpu.destroy();
      if (opts.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      console.log(`adapter: ${info.adapter}`);
      console.log(`per-kernel GPU timings (timestamp-query): ${info.features['timestamp-query'] ? 'yes' : 'no (CPU-side timings only)'}`);
      console.log(`shader-f16: ${info.features['shader-f16'] ? 'yes' : 'no'}`);
      for (const [k, v] of Object.entries(info.limits)) console.log(`${k}: ${v}`);
      console.log(describeTuning(tuning));
    });
}
