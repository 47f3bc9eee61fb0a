/**
 * Getting a GPUDevice. This is the ONLY module that knows whether it runs in a
 * browser (navigator.gpu) or in Node (Dawn, npm package `webgpu`).
 */
import { Gpu, type GpuLimits } from './gpu.ts';
import { throttleDawnPolling } from './dawn-polling.ts';

export interface RequestGpuOptions {
  /**
   * Caps the bytes of one storage binding below the adapter's own limit. Tests
   * use it to drive the split path of tensors larger than one binding with
   * small tensors; users never need it.
   */
  maxBindingBytes?: number;
  powerPreference?: GPUPowerPreference;
}

const NO_ADAPTER_HELP = `No WebGPU adapter was found.
  - In Node, Dawn needs a Vulkan driver. Without a GPU, install Mesa's software
    driver (lavapipe). On Debian 12 the stock one is too old for Dawn; take it from
    bookworm-backports: apt-get install -t bookworm-backports mesa-vulkan-drivers
    (see README, "Requirements").
  - On an NVIDIA GPU, install the Vulkan loader (libvulkan1) and point
    VK_DRIVER_FILES at NVIDIA's ICD JSON if it is not found.
  - In Chrome, WebGPU needs a secure context (https or localhost); on Linux start
    Chrome with --enable-unsafe-webgpu (or chrome://flags/#enable-unsafe-webgpu).`;

// Dawn's GPU object must outlive every device made from it.
let nodeGpu: GPU | undefined;

async function navigatorGpu(): Promise<GPU> {
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (browserGpu) return browserGpu;
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new Error(`This browser has no WebGPU (navigator.gpu is missing).\n${NO_ADAPTER_HELP}`);
  }
  if (!nodeGpu) {
    // A computed specifier keeps bundlers from pulling Dawn's native addon into the browser build.
    const dawnModule = 'webgpu';
    const dawn = (await import(/* @vite-ignore */ dawnModule)) as {
      create: (flags: string[]) => GPU;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, dawn.globals);
    throttleDawnPolling();
    // Dawn rounds timestamps to 100 µs by default (a browser fingerprinting guard);
    // kernel profiles need them exact.
    nodeGpu = dawn.create(['disable-dawn-features=timestamp_quantization']);
  }
  return nodeGpu;
}

/** Ask for the adapter's best limits and the optional features we can use. */
export async function requestGpu(options: RequestGpuOptions = {}): Promise<Gpu> {
  const gpu = await navigatorGpu();
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);

  const wanted: GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups' as GPUFeatureName];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const a = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
    // Finer alignment lets tensors split into windows at finer row steps.
    minStorageBufferOffsetAlignment: a.minStorageBufferOffsetAlignment,
    minUniformBufferOffsetAlignment: a.minUniformBufferOffsetAlignment,
  };
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });

  const info = adapter.info;
  // The description names the driver and device best where there is one.
  const name = (info.description || [info.vendor, info.architecture, info.device].filter((s) => s).join(' ')).trim();
  const limits: GpuLimits = {
    maxBindingBytes: Math.min(device.limits.maxStorageBufferBindingSize, options.maxBindingBytes ?? Infinity),
    maxBufferBytes: device.limits.maxBufferSize,
    storageOffsetAlignment: device.limits.minStorageBufferOffsetAlignment,
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
  };
  return new Gpu(device, {
    name: name || 'unknown adapter',
    timestamps: device.features.has('timestamp-query'),
    f16: device.features.has('shader-f16'),
    // subgroupMinSize is newer than some @webgpu/types; a device without it reports none.
    subgroupMinSize: device.features.has('subgroups' as GPUFeatureName)
      ? ((info as GPUAdapterInfo & { subgroupMinSize?: number }).subgroupMinSize ?? 0)
      : 0,
    cpu: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    limits,
  });
}
