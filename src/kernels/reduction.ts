/**
 * What the row-wise kernels share: the bias gradient's column sums
 * (matmul-bias.ts), LayerNorm's (layernorm.ts), attention's softmax and its
 * backward (attention.ts) and decoding's attention (decode.ts). Each has two variants,
 * because CPU rasterisers and GPUs reward opposite shapes of kernel:
 * - `cpu`: one invocation per row (or per column), no barriers. A CPU
 *   rasteriser (lavapipe, SwiftShader) runs a workgroup's invocations as SIMD
 *   lanes, where each barrier suspends and resumes every invocation; this is
 *   what runs fastest there.
 * - `gpu`: a workgroup per row, or blocks of rows reduced in workgroup memory
 *   into partial sums that a second dispatch adds up, with neighbouring lanes
 *   reading neighbouring columns. One invocation per column walking every row
 *   (the `cpu` shape) left an H200 at 23 GB/s: too few invocations to hide
 *   memory latency, and each warp's loads one row apart.
 * Both sum in a fixed order, so a shape's results repeat bit for bit.
 */
import type { Gpu } from '../gpu/gpu.ts';

export const REDUCTION_VARIANTS = ['cpu', 'gpu'] as const;
export type ReductionVariant = (typeof REDUCTION_VARIANTS)[number];

/** Per device, a variant set for every launcher that does not name one (setReductionVariant). */
const deviceVariants = new WeakMap<Gpu, ReductionVariant>();

/**
 * Run every row-wise kernel on this device in `variant` unless a launcher
 * names one: how a test drives a whole model through the `gpu` kernels on a
 * CPU adapter. Undefined restores the adapter's default.
 */
export function setReductionVariant(gpu: Gpu, variant: ReductionVariant | undefined): void {
  if (variant) deviceVariants.set(gpu, variant);
  else deviceVariants.delete(gpu);
}

/** The given variant, else the device's (setReductionVariant), else the adapter's: `cpu` on a CPU rasteriser, else `gpu`. */
export function reductionVariant(gpu: Gpu, variant?: ReductionVariant): ReductionVariant {
  return variant ?? deviceVariants.get(gpu) ?? (gpu.cpu ? 'cpu' : 'gpu');
}

/** Rows per block at least (8 rows a lane of the partial kernels' 4 lanes down a column). */
const BLOCK_ROWS = 32;
/** Blocks at most: the combine adds this many partial sums per column, one after another. */
const MAX_BLOCKS = 64;

/**
 * How the partial kernels split M rows: `blocks` blocks of `rows` rows (the
 * last maybe fewer). Blocks of 32 rows give 2048 rows (GPT-2 at B*T = 2048)
 * 64 workgroups down each 64 columns, enough to keep a large GPU's memory
 * busy; past 64 blocks the blocks grow instead, so that the combine, which
 * adds the blocks up in sequence, stays short.
 */
export function rowBlocks(M: number): { blocks: number; rows: number } {
  const rows = Math.max(1, Math.ceil(M / MAX_BLOCKS), Math.min(BLOCK_ROWS, M));
  // No empty blocks: 2049 rows are 63 blocks of 33, not 64.
  return { blocks: Math.max(1, Math.ceil(M / rows)), rows };
}

const partialBuffers = new WeakMap<Gpu, GPUBuffer>();

/**
 * A scratch buffer per device for partial sums, grown as needed. One buffer
 * serves every reduction: dispatches run in recorded order, so each combine
 * reads its partials before the next partial kernel overwrites them.
 */
export function partialsBuffer(gpu: Gpu, bytes: number): GPUBuffer {
  const current = partialBuffers.get(gpu);
  if (current && current.size >= bytes) return current;
  // Not destroyed: dispatches recorded but not yet submitted may still use it.
  const grown = gpu.createBuffer('reduction.partials', Math.max(bytes, 2 * (current?.size ?? 0)), GPUBufferUsage.STORAGE);
  partialBuffers.set(gpu, grown);
  return grown;
}
