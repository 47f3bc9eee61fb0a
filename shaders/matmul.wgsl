// General matrix multiply with strides, the one kernel behind every linear
// layer's forward and backward:
//   C(M,N) (+)= A(M,K) B(K,N) (+ bias(N))
// A is read as stored (M,K), or (K,M) when TRANS_A; B as (K,N), or (N,K) when
// TRANS_B. Leading dimensions and element offsets make column windows of a
// wider matrix addressable (the LM head's vocabulary chunks).
//   linear forward : out = inp W^T + b        A=inp, B=W   (TRANS_B)
//   linear dinp    : dinp = dout W            A=dout, B=W
//   linear dweight : dW += dout^T inp         A=dout (TRANS_A), B=inp, ACCUMULATE
// Parameter gradients accumulate (ACCUMULATE), activation gradients assign.
//
// This variant is register-tiled without shared memory or barriers: each
// thread owns a 4x4 block of C. It is what CPU rasterisers (lavapipe,
// SwiftShader) run fastest; edge tiles clamp their loads and drop their stores.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  lda: u32,   // row stride of A as stored
  ldb: u32,   // row stride of B as stored
  ldc: u32,   // row stride of C
  off_a: u32, // element offsets into the bound buffers
  off_b: u32,
  off_c: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// matmul
@group(0) @binding(1) var<storage, read_write> c: array<f32>; // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a: array<f32>;       // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b: array<f32>;       // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // (N) read when HAS_BIAS

// matmul_backward_bias: dbias(N) += column sums of dout(M,N)
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (M,N), row stride ldc, offset off_c

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;

const TILE: u32 = 4u;
const WG: u32 = 8u;

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

@compute @workgroup_size(WG, WG)
fn matmul(@builtin(global_invocation_id) gid: vec3u) {
  let M = params.M;
  let N = params.N;
  let m0 = gid.y * TILE;
  let n0 = gid.x * TILE;
  if (m0 >= M || n0 >= N) {
    return;
  }
  let rows = vec4u(m0, min(m0 + 1u, M - 1u), min(m0 + 2u, M - 1u), min(m0 + 3u, M - 1u));
  let cols = vec4u(n0, min(n0 + 1u, N - 1u), min(n0 + 2u, N - 1u), min(n0 + 3u, N - 1u));
  var acc: array<vec4f, 4>;
  for (var k = 0u; k < params.K; k++) {
    let bk = vec4f(b_at(k, cols.x), b_at(k, cols.y), b_at(k, cols.z), b_at(k, cols.w));
    acc[0] += a_at(rows.x, k) * bk;
    acc[1] += a_at(rows.y, k) * bk;
    acc[2] += a_at(rows.z, k) * bk;
    acc[3] += a_at(rows.w, k) * bk;
  }
  var bias4 = vec4f(0.0);
  if (HAS_BIAS) {
    bias4 = vec4f(bias[cols.x], bias[cols.y], bias[cols.z], bias[cols.w]);
  }
  for (var i = 0u; i < TILE; i++) {
    let m = m0 + i;
    if (m >= M) {
      break;
    }
    let v = acc[i] + bias4;
    for (var j = 0u; j < TILE; j++) {
      let n = n0 + j;
      if (n < N) {
        let idx = params.off_c + m * params.ldc + n;
        if (ACCUMULATE) {
          c[idx] += v[j];
        } else {
          c[idx] = v[j];
        }
      }
    }
  }
}

@compute @workgroup_size(64)
fn matmul_backward_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var n = gid.x; n < params.N; n += groups.x * 64u) {
    var sum = 0.0;
    for (var m = 0u; m < params.M; m++) {
      sum += dout[params.off_c + m * params.ldc + n];
    }
    dbias[n] += sum;
  }
}
