/**
 * One device and everything cached on it: compiled pipelines, uniform buffers
 * and bind groups, so that a training step creates nothing after the first.
 */
import { bufferOf, isWindow, offsetOf, type Binding } from './buffers.ts';
import type { DispatchProfiler } from './dispatch-profiler.ts';
import { shaderSource } from './shaders.ts';

export interface GpuLimits {
  /** bytes of one storage binding (maybe capped below the adapter's, see RequestGpuOptions) */
  maxBindingBytes: number;
  maxBufferBytes: number;
  storageOffsetAlignment: number;
  maxWorkgroupsPerDimension: number;
}

export interface GpuInfo {
  /** the adapter, as a person would name it */
  name: string;
  /** timestamp-query is enabled: per-kernel GPU times can be measured */
  timestamps: boolean;
  f16: boolean;
  /**
   * The `subgroups` feature is enabled and every subgroup has at least this
   * many invocations (the adapter's subgroupMinSize); 0 without the feature.
   */
  subgroupMinSize: number;
  /** a software rasteriser on the CPU (lavapipe, SwiftShader): WebGPU's isFallbackAdapter */
  cpu: boolean;
  limits: GpuLimits;
}

export type Overrides = Record<string, number | boolean>;

export class Gpu {
  readonly name: string;
  readonly timestamps: boolean;
  readonly f16: boolean;
  readonly subgroupMinSize: number;
  readonly cpu: boolean;
  readonly limits: GpuLimits;
  /**
   * While set, every Recorder made without a profiler of its own times its
   * dispatches with this one: how a caller profiles one step of a stage runner
   * that records deep inside (the demo's shader timings).
   */
  profiler: DispatchProfiler | undefined;

  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pipelineIds = new WeakMap<GPUComputePipeline, number>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** By value, least recently used first (a hit moves its entry to the end). */
  private readonly uniforms = new Map<string, GPUBuffer>();
  /** Per cached uniform buffer's id, the keys of the cached bind groups that hold it. */
  private readonly bindGroupsOfUniform = new Map<number, string[]>();
  private readonly uniformIds = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  private readonly errors: string[] = [];

  constructor(
    readonly device: GPUDevice,
    info: GpuInfo,
  ) {
    this.name = info.name;
    this.timestamps = info.timestamps;
    this.f16 = info.f16;
    this.subgroupMinSize = info.subgroupMinSize;
    this.cpu = info.cpu;
    this.limits = info.limits;
    // Validation errors surface asynchronously; keep them and raise at the next read.
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
  }

  /** The compute pipeline for an entry point of shaders/<shader>.wgsl, specialised by overrides. */
  pipeline(shader: string, entryPoint: string, overrides: Overrides = {}): GPUComputePipeline {
    const keys = Object.keys(overrides).sort();
    const key = `${shader}:${entryPoint}:${keys.map((k) => `${k}=${Number(overrides[k])}`).join(',')}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      let module = this.modules.get(shader);
      if (!module) {
        module = this.device.createShaderModule({ label: shader, code: shaderSource(shader) });
        this.modules.set(shader, module);
      }
      const constants: Record<string, number> = {};
      for (const k of keys) constants[k] = Number(overrides[k]);
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, pipeline);
      this.pipelineIds.set(pipeline, this.nextId++);
    }
    return pipeline;
  }

  /**
   * A uniform buffer holding the given u32 values followed by the given f32
   * values (the shader's Params struct lists its u32 fields first). Cached by
   * value: shapes repeat every step.
   */
  uniform(u32: readonly number[], f32: readonly number[] = []): GPUBuffer {
    const key = `${u32.join(',')}|${f32.join(',')}`;
    let buffer = this.uniforms.get(key);
    if (buffer) {
      this.uniforms.delete(key);
      this.uniforms.set(key, buffer);
    } else {
      const words = Math.max(4, Math.ceil((u32.length + f32.length) / 4) * 4);
      const data = new ArrayBuffer(words * 4);
      new Uint32Array(data, 0, u32.length).set(u32.map((v) => v >>> 0));
      new Float32Array(data, u32.length * 4, f32.length).set(f32);
      buffer = this.device.createBuffer({
        label: `uniform(${key})`,
        size: data.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(buffer, 0, data);
      this.uniforms.set(key, buffer);
      this.uniformIds.set(buffer, this.idOf(buffer));
      while (this.uniforms.size > this.maxUniforms) this.evictUniform();
    }
    return buffer;
  }

  /**
   * Uniform buffers kept at most. Shapes repeat every step, but values that
   * change per call (a decoding step's position, a sampling seed) would make
   * new ones forever: 300 generate() calls once grew the cache from 5,265 to
   * 30,515 buffers. Past this many, the least recently used goes (tests
   * lower it to drive eviction).
   */
  maxUniforms = 4096;

  /**
   * Forgets the least recently used uniform buffer and the bind groups that
   * hold it. It is not destroyed: work already recorded may still read it,
   * and WebGPU frees it once that is done and nothing references it.
   */
  private evictUniform(): void {
    const [key, buffer] = this.uniforms.entries().next().value as [string, GPUBuffer];
    this.uniforms.delete(key);
    const id = this.idOf(buffer);
    for (const groupKey of this.bindGroupsOfUniform.get(id) ?? []) this.bindGroups.delete(groupKey);
    this.bindGroupsOfUniform.delete(id);
  }

  /** What the device caches now: uniform buffers and bind groups (tests check that long runs keep these bounded). */
  cacheSizes(): { uniforms: number; bindGroups: number; pipelines: number } {
    return { uniforms: this.uniforms.size, bindGroups: this.bindGroups.size, pipelines: this.pipelines.size };
  }

  /**
   * The bind group of `bindings` (binding i = bindings[i]) for a pipeline's
   * group 0, built once. A null slot is a binding number the entry point does
   * not use (an entry point sharing a shader file's numbering with others).
   */
  bindGroup(pipeline: GPUComputePipeline, bindings: readonly (Binding | null)[]): GPUBindGroup {
    let key = String(this.pipelineIds.get(pipeline));
    for (const b of bindings) {
      if (b === null) key += '|-';
      else key += `|${this.idOf(bufferOf(b))}${isWindow(b) ? `@${b.offset}+${b.size}` : ''}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [];
      bindings.forEach((b, binding) => {
        if (b === null) return;
        entries.push({ binding, resource: isWindow(b) ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: b } });
      });
      group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      this.bindGroups.set(key, group);
      // Remembered per uniform buffer, so that evicting the buffer drops the group too.
      for (const b of bindings) {
        const id = b === null || isWindow(b) ? undefined : this.uniformIds.get(b);
        if (id === undefined) continue;
        const keys = this.bindGroupsOfUniform.get(id);
        if (keys) keys.push(key);
        else this.bindGroupsOfUniform.set(id, [key]);
      }
    }
    return group;
  }

  /** Forget cached bind groups, e.g. after the buffers they reference were destroyed. */
  clearBindGroups(): void {
    this.bindGroups.clear();
    this.bindGroupsOfUniform.clear();
  }

  createBuffer(label: string, bytes: number, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
    if (bytes > this.limits.maxBufferBytes) {
      throw new Error(
        `buffer "${label}" needs ${bytes} bytes, more than this adapter's maxBufferSize (${this.limits.maxBufferBytes})`,
      );
    }
    // Zero-sized buffers cannot be bound; every tensor gets at least one element.
    return this.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  }

  /** A storage buffer initialised from data (f32 or i32 elements). */
  createBufferFrom(label: string, data: Float32Array | Int32Array | Uint32Array): GPUBuffer {
    const buffer = this.createBuffer(label, data.byteLength);
    this.write(buffer, data);
    return buffer;
  }

  /** Queue a write of data at `offsetBytes` into a buffer or a window of one (a tensor in an arena). */
  write(target: Binding, data: Float32Array | Int32Array | Uint32Array, offsetBytes = 0): void {
    this.device.queue.writeBuffer(bufferOf(target), offsetOf(target) + offsetBytes, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Reads bytes [offset, offset+size) of a buffer, or of a window of one, back
   * to the CPU (after all submitted work).
   */
  async readBytes(source: Binding, offsetBytes = 0, sizeBytes = source.size - offsetBytes): Promise<ArrayBuffer> {
    const buffer = bufferOf(source);
    offsetBytes += offsetOf(source);
    const staging = this.device.createBuffer({
      size: Math.ceil(sizeBytes / 4) * 4,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, offsetBytes, staging, 0, staging.size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const copy = staging.getMappedRange().slice(0, sizeBytes);
    staging.unmap();
    staging.destroy();
    this.raiseErrors();
    return copy;
  }

  /**
   * The floats of a readback buffer (MAP_READ) that recorded work copied
   * into: mapped after all submitted work, copied out, unmapped, and any
   * error of that work raised. For the few figures a step reads back.
   */
  async readMapped(readback: GPUBuffer): Promise<Float32Array> {
    await readback.mapAsync(GPUMapMode.READ);
    const values = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    this.raiseErrors();
    return values;
  }

  async readF32(buffer: Binding, first = 0, count = buffer.size / 4 - first): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(buffer, first * 4, count * 4));
  }

  async readI32(buffer: Binding, first = 0, count = buffer.size / 4 - first): Promise<Int32Array> {
    return new Int32Array(await this.readBytes(buffer, first * 4, count * 4));
  }

  /** Throws the first WebGPU validation error seen since the last call. */
  raiseErrors(): void {
    if (this.errors.length > 0) {
      const all = this.errors.splice(0);
      throw new Error(`WebGPU error: ${all[0]}${all.length > 1 ? ` (and ${all.length - 1} more)` : ''}`);
    }
  }

  async idle(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.raiseErrors();
  }

  destroy(): void {
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
    this.bindGroups.clear();
    this.bindGroupsOfUniform.clear();
    this.device.destroy();
  }

  /** Workgroup count for a grid-stride loop over n items with `groupSize` threads a group. */
  groupsFor(n: number, groupSize: number): number {
    return Math.max(1, Math.min(Math.ceil(n / groupSize), this.limits.maxWorkgroupsPerDimension));
  }

  private idOf(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }
}
