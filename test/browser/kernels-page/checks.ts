/**
 * The checks the kernels page runs in the browser, and what it reports back:
 * plain data, shared by the page (main.ts) and the test that drives it
 * (kernels.test.ts), so that every check is its own test, named by kernel and shape.
 */

/** [M, N, K] */
export type GemmShape = readonly [number, number, number];

export type CheckSpec =
  /** gemm({ variant: 'blocked' }), C += A B + bias; `tile` indexes BLOCKED_TILES (none: the path gemm picks, matmul_skinny for a few rows) */
  | { kind: 'gemm'; ta: boolean; tb: boolean; shapes: readonly GemmShape[]; tile?: number; splits?: number; gelu?: boolean }
  /** matmulBackwardBias(..., 'gpu'): dbias += column sums of dout(M,N) read with row stride ld from offset */
  | { kind: 'bias'; M: number; N: number; ld?: number; offset?: number }
  /** layernormForward then layernormBackward, both in the 'gpu' variant */
  | { kind: 'layernorm'; N: number; C: number; residual: boolean }
  /** GPT-2 against the PyTorch fixture with every matmul blocked and the row-wise kernels in their 'gpu' variant */
  | { kind: 'gpt' };

export interface Check {
  /** the kernel (family) under test */
  kernel: string;
  /** the shapes and options, as a person reads them */
  shape: string;
  spec: CheckSpec;
  /** entry points that must have run: a check that quietly took another path fails */
  entries: readonly string[];
}

const LAYOUTS = [false, true].flatMap((ta) => [false, true].map((tb) => [ta, tb] as const));
const layoutName = (ta: boolean, tb: boolean) => `${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`;
const shapesName = (shapes: readonly GemmShape[]) => shapes.map(([M, N, K]) => `M=${M} N=${N} K=${K}`).join(', ');

/** Rows, columns and depths that fill no tile, panel or workgroup (the Node tests' odd shapes). */
const TILE_SHAPES: readonly GemmShape[] = [
  [1, 1, 1],
  [67, 129, 50],
  [130, 67, 37],
];
const SPLIT_SHAPES: readonly GemmShape[] = [[67, 129, 100]];
/** At most 8 rows of A stored (M,K): matmul_skinny. */
const SKINNY_SHAPES: readonly GemmShape[] = [
  [4, 67, 130],
  [8, 5, 63],
];

/** The BLOCKED_TILES, as matmul.ts lists them (the page checks the two agree). */
export const TILE_NAMES = ['128x128', '128x64', '64x64'] as const;

export const CHECKS: readonly Check[] = [
  // Every layout in the smallest tile (what small products get by default);
  // the larger tiles in NN and TT, which between them take both load paths of
  // each operand (compiling a pipeline takes SwiftShader about a second).
  ...TILE_NAMES.flatMap((tileName, tile) =>
    LAYOUTS.filter(([ta, tb]) => tile === TILE_NAMES.length - 1 || ta === tb).map(([ta, tb]): Check => ({
      kernel: 'gemm blocked',
      shape: `${layoutName(ta, tb)}, tile ${tileName}, accumulate + bias: ${shapesName(TILE_SHAPES)}`,
      spec: { kind: 'gemm', ta, tb, shapes: TILE_SHAPES, tile, splits: 1 },
      entries: ['matmul_blocked'],
    })),
  ),
  ...LAYOUTS.map(([ta, tb]): Check => ({
    kernel: 'gemm blocked split-K',
    shape: `${layoutName(ta, tb)}, tile 64x64, 3 slices of K, accumulate + bias: ${shapesName(SPLIT_SHAPES)}`,
    spec: { kind: 'gemm', ta, tb, shapes: SPLIT_SHAPES, tile: 2, splits: 3 },
    entries: ['matmul_blocked', 'matmul_blocked_combine'],
  })),
  ...[false, true].map(
    (tb): Check => ({
      kernel: 'gemm blocked, a few rows (matmul_skinny)',
      shape: `${layoutName(false, tb)}, accumulate + bias + gelu: ${shapesName(SKINNY_SHAPES)}`,
      spec: { kind: 'gemm', ta: false, tb, shapes: SKINNY_SHAPES, gelu: true },
      entries: [tb ? 'matmul_skinny_nt' : 'matmul_skinny_nn'],
    }),
  ),
  {
    kernel: 'matmulBackwardBias gpu',
    shape: 'M=130 N=67',
    spec: { kind: 'bias', M: 130, N: 67 },
    entries: ['matmul_backward_bias_partial', 'matmul_backward_bias_combine'],
  },
  {
    kernel: 'matmulBackwardBias gpu',
    shape: 'M=70 N=37, a window of rows 101 apart from element 205',
    spec: { kind: 'bias', M: 70, N: 37, ld: 101, offset: 205 },
    entries: ['matmul_backward_bias_partial', 'matmul_backward_bias_combine'],
  },
  ...[true, false].map(
    (residual): Check => ({
      kernel: 'layernorm gpu',
      shape: `N=7 C=130, forward and backward${residual ? ' with a residual gradient' : ''}`,
      spec: { kind: 'layernorm', N: 7, C: 130, residual },
      entries: ['layernorm_forward_rows', 'layernorm_backward_rows', 'layernorm_backward_params_partial', 'layernorm_backward_params_combine'],
    }),
  ),
  {
    kernel: 'GPT-2 (PyTorch fixture)',
    shape: 'logits, loss and every parameter gradient; matmuls blocked, row-wise kernels gpu',
    spec: { kind: 'gpt' },
    entries: ['matmul_blocked', 'layernorm_forward_rows', 'matmul_backward_bias_partial'],
  },
];

/** One output compared with its reference. */
export interface Comparison {
  output: string;
  /** the worst element's |got - want| / tolerance: above 1 fails */
  excess: number;
  maxAbsErr: number;
  /** where and by how much, for the failure message */
  detail: string;
}

export interface CheckResult {
  comparisons: Comparison[];
  /** entry points of the pipelines the check dispatched */
  ran: string[];
  ms: number;
  /** why the check could not run on this adapter */
  skipped?: string;
  error?: string;
}

export interface KernelsReport {
  adapter: string;
  features: string[];
  /** one per CHECKS entry, in order; grows as the page works */
  results: CheckResult[];
  done: boolean;
  /** a failure before any check could run (no WebGPU, say) */
  fatal?: string;
}

declare global {
  interface Window {
    __kernelsReport?: KernelsReport;
  }
}
