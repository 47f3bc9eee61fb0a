// A linear layer's bias gradient on GPUs: dbias(N) += column sums of dout(M,N)
// (a parameter gradient: it accumulates). The variant for CPU rasterisers is
// matmul_backward_bias in matmul.wgsl, one invocation per column.
//
// A reduction over rows in two dispatches, after llm.c's matmul_backward_bias
// (kernel 9), with a second dispatch where llm.c would use float atomics,
// which WGSL lacks:
// - matmul_backward_bias_partial: workgroup (x, y) sums rows of block y over
//   columns x*COLS.. . Its COLS lanes across read COLS neighbouring columns
//   of a row (one coalesced load per warp); its SPLIT lanes down take every
//   SPLIT-th row of the block, so that many loads are in flight per column;
//   the SPLIT sums meet in workgroup memory. One partial sum per block and
//   column.
// - matmul_backward_bias_combine: one invocation per column adds the blocks'
//   partial sums in block order into dbias.
// Every sum runs in a fixed order: a shape's results repeat bit for bit.

struct Params {
  M: u32,
  N: u32,
  ld: u32,     // row stride of dout
  off: u32,    // element offset of dout(0,0) in the bound buffer
  rows: u32,   // rows per block (the last block may have fewer)
  blocks: u32, // blocks of rows
}

@group(0) @binding(0) var<uniform> params: Params;

// matmul_backward_bias_partial
@group(0) @binding(1) var<storage, read_write> partials: array<f32>; // (blocks,N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;           // (M,N), row stride ld, offset off

// matmul_backward_bias_combine
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;  // (N)
@group(0) @binding(2) var<storage, read> partials_c: array<f32>;   // (blocks,N)

const COLS: u32 = 64u;
const SPLIT: u32 = 4u;

var<workgroup> sums: array<f32, COLS * SPLIT>;

@compute @workgroup_size(COLS, SPLIT)
fn matmul_backward_bias_partial(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let n = wg.x * COLS + lid.x;
  let r0 = wg.y * params.rows;
  let r1 = min(r0 + params.rows, params.M);
  var sum = 0.0;
  if (n < params.N) {
    for (var m = r0 + lid.y; m < r1; m += SPLIT) {
      sum += dout[params.off + m * params.ld + n];
    }
  }
  // Lanes past N still reach the barrier, which the whole workgroup must.
  sums[lid.y * COLS + lid.x] = sum;
  workgroupBarrier();
  if (lid.y == 0u && n < params.N) {
    var total = sums[lid.x];
    for (var y = 1u; y < SPLIT; y++) {
      total += sums[y * COLS + lid.x];
    }
    partials[wg.y * params.N + n] = total;
  }
}

@compute @workgroup_size(COLS)
fn matmul_backward_bias_combine(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= params.N) {
    return;
  }
  var total = 0.0;
  for (var b = 0u; b < params.blocks; b++) {
    total += partials_c[b * params.N + n];
  }
  dbias[n] += total;
}
