// The `subgroup` variant of matmul.wgsl (same operands, parameters and
// epilogue), for CPU rasterisers that run a workgroup as SIMD lanes. Kept in
// its own file because it needs the `subgroups` feature, and a module that
// enables it does not compile on a device without it.
//
// Why it exists: lavapipe (Mesa 25) turns every storage-buffer load into a
// loop over the SIMD lanes, one scalar load per lane, whether the address is
// the same in every lane or not; a load costs as much as ~20 multiply-adds.
// What stays cheap is arithmetic on registers and subgroupBroadcast, an
// extract and a splat. So each lane loads A at a different k (one load fetches
// 8 values of a row of A across the subgroup) and broadcasts them to the
// others; B, which differs per lane, is the only operand loaded per k.
//
//   C(M,N) (+)= A(M,K) B(K,N) (+ bias(N)), A as (K,M) when TRANS_A, B as (N,K) when TRANS_B
//
// A workgroup computes ROWS rows of C by LANES x COLS columns, COLS per lane.
// Needs a subgroup size of at least SPAN (8); lanes past SPAN repeat the
// first SPAN's loads. Any shape, any alignment. The sums run in a fixed order.

enable subgroups;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  lda: u32,
  ldb: u32,
  ldc: u32,
  off_a: u32,
  off_b: u32,
  off_c: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;   // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a: array<f32>;         // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b: array<f32>;         // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act: array<f32>; // (M,N) gelu(C), written when GELU_OUT

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;
override GELU_OUT: bool = false;
// Columns of C per lane (1 to MAX_COLS), LANES apart: each broadcast value of
// A then feeds COLS multiply-adds, but narrow matrices leave lanes idle.
override COLS: u32 = 1u;

const ROWS: u32 = 16u;  // rows of C per workgroup
const LANES: u32 = 64u; // columns of C per workgroup
const SPAN: u32 = 8u;   // k values one load of A fetches across the subgroup
const MAX_COLS: u32 = 4u;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

fn a_at(m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return a[params.off_a + k * params.lda + m];
  }
  return a[params.off_a + m * params.lda + k];
}

fn b_at(k: u32, n: u32) -> f32 {
  if (TRANS_B) {
    return b[params.off_b + n * params.ldb + k];
  }
  return b[params.off_b + k * params.ldb + n];
}

@compute @workgroup_size(LANES)
fn matmul_subgroup(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wg.y * ROWS;
  let n0 = wg.x * LANES * COLS + lid.x;
  // Lanes past N load column N-1 and store nothing: every lane must take
  // part in the broadcasts.
  var n_load: array<u32, MAX_COLS>;
  for (var j = 0u; j < COLS; j++) {
    n_load[j] = min(n0 + j * LANES, N - 1u);
  }
  var acc: array<array<f32, MAX_COLS>, ROWS>;
  for (var k0 = 0u; k0 < K; k0 += SPAN) {
    // This lane's k; past K it loads zeros, which add nothing.
    let k_lane = k0 + lane % SPAN;
    let k_load = min(k_lane, K - 1u);
    var a_lane: array<f32, ROWS>;
    for (var i = 0u; i < ROWS; i++) {
      a_lane[i] = select(0.0, a_at(min(m0 + i, M - 1u), k_load), k_lane < K);
    }
    // subgroupBroadcast takes a constant lane, hence the eight steps written out.
    for (var j = 0u; j < COLS; j++) {
      let last = K - 1u;
      let n = n_load[j];
      let b0 = b_at(min(k0, last), n);
      let b1 = b_at(min(k0 + 1u, last), n);
      let b2 = b_at(min(k0 + 2u, last), n);
      let b3 = b_at(min(k0 + 3u, last), n);
      let b4 = b_at(min(k0 + 4u, last), n);
      let b5 = b_at(min(k0 + 5u, last), n);
      let b6 = b_at(min(k0 + 6u, last), n);
      let b7 = b_at(min(k0 + 7u, last), n);
      for (var i = 0u; i < ROWS; i++) {
        var s = acc[i][j];
        s = fma(subgroupBroadcast(a_lane[i], 0u), b0, s);
        s = fma(subgroupBroadcast(a_lane[i], 1u), b1, s);
        s = fma(subgroupBroadcast(a_lane[i], 2u), b2, s);
        s = fma(subgroupBroadcast(a_lane[i], 3u), b3, s);
        s = fma(subgroupBroadcast(a_lane[i], 4u), b4, s);
        s = fma(subgroupBroadcast(a_lane[i], 5u), b5, s);
        s = fma(subgroupBroadcast(a_lane[i], 6u), b6, s);
        s = fma(subgroupBroadcast(a_lane[i], 7u), b7, s);
        acc[i][j] = s;
      }
    }
  }
  for (var j = 0u; j < COLS; j++) {
    let n = n0 + j * LANES;
    if (n < N) {
      var bias_n = 0.0;
      if (HAS_BIAS) {
        bias_n = bias[n];
      }
      for (var i = 0u; i < ROWS; i++) {
        let m = m0 + i;
        if (m < M) {
          let idx = params.off_c + m * params.ldc + n;
          var out = acc[i][j] + bias_n;
          if (ACCUMULATE) {
            out += c[idx];
          }
          c[idx] = out;
          if (GELU_OUT) {
            act[idx] = gelu(out);
          }
        }
      }
    }
  }
}
