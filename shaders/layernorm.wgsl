// LayerNorm over the last dimension (eps 1e-5, biased variance, as PyTorch).
// Forward saves mean and rstd for the backward pass.
// Activation gradients assign (dinp =); parameter gradients accumulate
// (dweight +=, dbias +=). layernorm_backward also adds `dres`, the gradient
// arriving through the residual stream that fed this LayerNorm's input: the
// residual add's backward is fused here (see residual.wgsl).
//
// Two variants (src/kernels/reduction.ts says which runs where):
// - for CPU rasterisers, layernorm_forward, layernorm_backward and
//   layernorm_backward_params: one invocation per row (per column for the
//   parameter gradients) keeps every sum in one lane, with no barriers, which
//   is what CPU rasterisers run fastest.
// - for GPUs, layernorm_forward_rows and layernorm_backward_rows: a workgroup
//   of ROW_LANES per row, neighbouring lanes reading neighbouring channels,
//   the row's sums meeting in workgroup memory; then the parameter gradients
//   as partial sums over blocks of rows (layernorm_backward_params_partial,
//   laid out as matmul_bias.wgsl's) and their sum in block order
//   (layernorm_backward_params_combine).
// Every sum runs in a fixed order: a shape's results repeat bit for bit.

struct Params {
  N: u32,      // rows (B*T)
  C: u32,
  rows: u32,   // layernorm_backward_params_*: rows per block (the last may have fewer)
  blocks: u32, // layernorm_backward_params_*: blocks of rows
}

@group(0) @binding(0) var<uniform> params: Params;

// layernorm_forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (N,C)
@group(0) @binding(2) var<storage, read_write> mean: array<f32>; // (N)
@group(0) @binding(3) var<storage, read_write> rstd: array<f32>; // (N)
@group(0) @binding(4) var<storage, read> inp: array<f32>;        // (N,C)
@group(0) @binding(5) var<storage, read> weight: array<f32>;     // (C)
@group(0) @binding(6) var<storage, read> bias: array<f32>;       // (C)

// layernorm_backward
@group(0) @binding(1) var<storage, read_write> dinp: array<f32>; // (N,C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (N,C)
@group(0) @binding(3) var<storage, read> dres: array<f32>;       // (N,C) read when HAS_RES
@group(0) @binding(4) var<storage, read> inp_b: array<f32>;      // (N,C)
@group(0) @binding(5) var<storage, read> weight_b: array<f32>;   // (C)
@group(0) @binding(6) var<storage, read> mean_b: array<f32>;     // (N)
@group(0) @binding(7) var<storage, read> rstd_b: array<f32>;     // (N)

// layernorm_backward_params
@group(0) @binding(1) var<storage, read_write> dweight: array<f32>; // (C)
@group(0) @binding(2) var<storage, read_write> dbias: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read> dout_p: array<f32>;        // (N,C)
@group(0) @binding(4) var<storage, read> inp_p: array<f32>;         // (N,C)
@group(0) @binding(5) var<storage, read> mean_p: array<f32>;        // (N)
@group(0) @binding(6) var<storage, read> rstd_p: array<f32>;        // (N)

// layernorm_backward_params_partial
@group(0) @binding(1) var<storage, read_write> partials: array<f32>; // (blocks,2,C): dweight's, then dbias's
@group(0) @binding(2) var<storage, read> dout_q: array<f32>;         // (N,C)
@group(0) @binding(3) var<storage, read> inp_q: array<f32>;          // (N,C)
@group(0) @binding(4) var<storage, read> mean_q: array<f32>;         // (N)
@group(0) @binding(5) var<storage, read> rstd_q: array<f32>;         // (N)

// layernorm_backward_params_combine: dweight and dbias as above, and
@group(0) @binding(3) var<storage, read> partials_c: array<f32>; // (blocks,2,C)

override HAS_RES: bool = true;

const WG: u32 = 64u;
const EPS: f32 = 1e-5;

@compute @workgroup_size(WG)
fn layernorm_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var row = gid.x; row < params.N; row += groups.x * WG) {
    let base = row * C;
    var sum = 0.0;
    for (var c = 0u; c < C; c++) {
      sum += inp[base + c];
    }
    let m = sum / f32(C);
    var sq = 0.0;
    for (var c = 0u; c < C; c++) {
      let d = inp[base + c] - m;
      sq += d * d;
    }
    let s = inverseSqrt(sq / f32(C) + EPS);
    for (var c = 0u; c < C; c++) {
      out[base + c] = (inp[base + c] - m) * s * weight[c] + bias[c];
    }
    mean[row] = m;
    rstd[row] = s;
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var row = gid.x; row < params.N; row += groups.x * WG) {
    let base = row * C;
    let m = mean_b[row];
    let s = rstd_b[row];
    var dnorm_mean = 0.0;
    var dnorm_norm_mean = 0.0;
    for (var c = 0u; c < C; c++) {
      let norm = (inp_b[base + c] - m) * s;
      let dnorm = dout[base + c] * weight_b[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean /= f32(C);
    dnorm_norm_mean /= f32(C);
    for (var c = 0u; c < C; c++) {
      let norm = (inp_b[base + c] - m) * s;
      let dnorm = dout[base + c] * weight_b[c];
      var g = s * (dnorm - dnorm_mean - norm * dnorm_norm_mean);
      if (HAS_RES) {
        g += dres[base + c];
      }
      dinp[base + c] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn layernorm_backward_params(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var c = gid.x; c < C; c += groups.x * WG) {
    var dw = 0.0;
    var db = 0.0;
    for (var row = 0u; row < params.N; row++) {
      let g = dout_p[row * C + c];
      dw += g * (inp_p[row * C + c] - mean_p[row]) * rstd_p[row];
      db += g;
    }
    dweight[c] += dw;
    dbias[c] += db;
  }
}

// ---- GPU variant ----

const ROW_LANES: u32 = 128u; // a power of two: the sums below halve it
var<workgroup> row_sums: array<f32, ROW_LANES>;
var<workgroup> row_sums2: array<vec2f, ROW_LANES>;

// The sum of every lane's v, in every lane: a tree in a fixed order. Called
// in uniform control flow only (it holds barriers).
fn row_sum(lane: u32, v: f32) -> f32 {
  row_sums[lane] = v;
  workgroupBarrier();
  for (var stride = ROW_LANES / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      row_sums[lane] += row_sums[lane + stride];
    }
    workgroupBarrier();
  }
  let total = row_sums[0];
  // Before the next call overwrites row_sums[0].
  workgroupBarrier();
  return total;
}

fn row_sum2(lane: u32, v: vec2f) -> vec2f {
  row_sums2[lane] = v;
  workgroupBarrier();
  for (var stride = ROW_LANES / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      row_sums2[lane] += row_sums2[lane + stride];
    }
    workgroupBarrier();
  }
  let total = row_sums2[0];
  workgroupBarrier();
  return total;
}

// Rows are the workgroups' (uniform), so the barriers in row_sum stay in uniform control flow.
@compute @workgroup_size(ROW_LANES)
fn layernorm_forward_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let lane = lid.x;
  for (var row = wg.x; row < params.N; row += groups.x) {
    let base = row * C;
    var sum = 0.0;
    for (var c = lane; c < C; c += ROW_LANES) {
      sum += inp[base + c];
    }
    let m = row_sum(lane, sum) / f32(C);
    // Two passes, as the reference: E[(x-m)^2] rather than E[x^2]-m^2, which cancels badly.
    var sq = 0.0;
    for (var c = lane; c < C; c += ROW_LANES) {
      let d = inp[base + c] - m;
      sq += d * d;
    }
    let s = inverseSqrt(row_sum(lane, sq) / f32(C) + EPS);
    for (var c = lane; c < C; c += ROW_LANES) {
      out[base + c] = (inp[base + c] - m) * s * weight[c] + bias[c];
    }
    if (lane == 0u) {
      mean[row] = m;
      rstd[row] = s;
    }
  }
}

@compute @workgroup_size(ROW_LANES)
fn layernorm_backward_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let lane = lid.x;
  for (var row = wg.x; row < params.N; row += groups.x) {
    let base = row * C;
    let m = mean_b[row];
    let s = rstd_b[row];
    var acc = vec2f(0.0);
    for (var c = lane; c < C; c += ROW_LANES) {
      let norm = (inp_b[base + c] - m) * s;
      let dnorm = dout[base + c] * weight_b[c];
      acc += vec2f(dnorm, dnorm * norm);
    }
    // (mean of dnorm, mean of dnorm * norm)
    let means = row_sum2(lane, acc) / f32(C);
    for (var c = lane; c < C; c += ROW_LANES) {
      let norm = (inp_b[base + c] - m) * s;
      let dnorm = dout[base + c] * weight_b[c];
      var g = s * (dnorm - means.x - norm * means.y);
      if (HAS_RES) {
        g += dres[base + c];
      }
      dinp[base + c] = g;
    }
  }
}

// As matmul_backward_bias_partial (matmul_bias.wgsl): workgroup (x, y) sums
// block y's rows over channels x*COLS.. , its SPLIT lanes down taking every
// SPLIT-th row; mean and rstd are the same in every lane, one load a warp.
const COLS: u32 = 64u;
const SPLIT: u32 = 4u;
var<workgroup> col_sums: array<vec2f, COLS * SPLIT>;

@compute @workgroup_size(COLS, SPLIT)
fn layernorm_backward_params_partial(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u) {
  let C = params.C;
  let c = wg.x * COLS + lid.x;
  let r0 = wg.y * params.rows;
  let r1 = min(r0 + params.rows, params.N);
  var acc = vec2f(0.0); // (dweight, dbias)
  if (c < C) {
    for (var row = r0 + lid.y; row < r1; row += SPLIT) {
      let g = dout_q[row * C + c];
      acc += vec2f(g * (inp_q[row * C + c] - mean_q[row]) * rstd_q[row], g);
    }
  }
  // Lanes past C still reach the barrier, which the whole workgroup must.
  col_sums[lid.y * COLS + lid.x] = acc;
  workgroupBarrier();
  if (lid.y == 0u && c < C) {
    var total = col_sums[lid.x];
    for (var y = 1u; y < SPLIT; y++) {
      total += col_sums[y * COLS + lid.x];
    }
    partials[wg.y * 2u * C + c] = total.x;
    partials[wg.y * 2u * C + C + c] = total.y;
  }
}

@compute @workgroup_size(COLS)
fn layernorm_backward_params_combine(@builtin(global_invocation_id) gid: vec3u) {
  let C = params.C;
  let c = gid.x;
  if (c >= C) {
    return;
  }
  var dw = 0.0;
  var db = 0.0;
  for (var b = 0u; b < params.blocks; b++) {
    dw += partials_c[b * 2u * C + c];
    db += partials_c[b * 2u * C + C + c];
  }
  dweight[c] += dw;
  dbias[c] += db;
}
