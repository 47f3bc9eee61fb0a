// LayerNorm over the last dimension (eps 1e-5, biased variance, as PyTorch).
// Forward saves mean and rstd for the backward pass.
// Activation gradients assign (dinp =); parameter gradients accumulate
// (dweight +=, dbias +=). layernorm_backward also adds `dres`, the gradient
// arriving through the residual stream that fed this LayerNorm's input: the
// residual add's backward is fused here (see residual.wgsl).
// One thread per row keeps every row's sums in one lane, with no barriers,
// which is what CPU rasterisers run fastest.

struct Params {
  N: u32, // rows (B*T)
  C: u32,
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
