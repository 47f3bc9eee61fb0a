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
// Both variants are register-tiled without shared memory or barriers: each
// thread owns a 4x4 block of C, which is what CPU rasterisers (lavapipe,
// SwiftShader) run fastest. `matmul` reads scalars and takes any shape;
// `matmul_vec4` reads 4x4 blocks of A and B as four vec4 loads each and
// multiplies them as mat4x4, a quarter of the load instructions, but needs
// the contiguous dimension of each operand (and its offset) to be a multiple
// of 4. Edge tiles clamp their loads and drop their stores.

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

// matmul_vec4: the same operands seen as vec4s along their contiguous dimension
@group(0) @binding(1) var<storage, read_write> c4: array<f32>; // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a4: array<vec4f>;    // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b4: array<vec4f>;    // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias4: array<f32>;   // (N) read when HAS_BIAS

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

// Column kk of the 4x4 block A[m0..m0+3, k..k+3] (a vec4 over m).
fn a_block(m0: u32, k: u32) -> mat4x4f {
  if (TRANS_A) {
    // stored (K,M): each k is a contiguous run of m
    let base = params.off_a + m0;
    return mat4x4f(
      a4[(base + k * params.lda) / 4u],
      a4[(base + (k + 1u) * params.lda) / 4u],
      a4[(base + (k + 2u) * params.lda) / 4u],
      a4[(base + (k + 3u) * params.lda) / 4u],
    );
  }
  // stored (M,K): each m is a contiguous run of k; rows past M are clamped
  let last = params.M - 1u;
  let base = params.off_a + k;
  return transpose(mat4x4f(
    a4[(base + m0 * params.lda) / 4u],
    a4[(base + min(m0 + 1u, last) * params.lda) / 4u],
    a4[(base + min(m0 + 2u, last) * params.lda) / 4u],
    a4[(base + min(m0 + 3u, last) * params.lda) / 4u],
  ));
}

// Column j of the 4x4 block B[k..k+3, n0..n0+3] (a vec4 over k).
fn b_block(k: u32, n0: u32) -> mat4x4f {
  if (TRANS_B) {
    // stored (N,K): each n is a contiguous run of k; columns past N are clamped
    let last = params.N - 1u;
    let base = params.off_b + k;
    return mat4x4f(
      b4[(base + n0 * params.ldb) / 4u],
      b4[(base + min(n0 + 1u, last) * params.ldb) / 4u],
      b4[(base + min(n0 + 2u, last) * params.ldb) / 4u],
      b4[(base + min(n0 + 3u, last) * params.ldb) / 4u],
    );
  }
  // stored (K,N): each k is a contiguous run of n
  let base = params.off_b + n0;
  return transpose(mat4x4f(
    b4[(base + k * params.ldb) / 4u],
    b4[(base + (k + 1u) * params.ldb) / 4u],
    b4[(base + (k + 2u) * params.ldb) / 4u],
    b4[(base + (k + 3u) * params.ldb) / 4u],
  ));
}

fn a_scalar(m: u32, k: u32) -> f32 {
  let i = select(params.off_a + m * params.lda + k, params.off_a + k * params.lda + m, TRANS_A);
  return a4[i / 4u][i % 4u];
}

fn b_scalar(k: u32, n: u32) -> f32 {
  let i = select(params.off_b + k * params.ldb + n, params.off_b + n * params.ldb + k, TRANS_B);
  return b4[i / 4u][i % 4u];
}

@compute @workgroup_size(WG, WG)
fn matmul_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = gid.y * TILE;
  let n0 = gid.x * TILE;
  if (m0 >= M || n0 >= N) {
    return;
  }
  // acc[j][i] = C[m0+i, n0+j]
  var acc = mat4x4f();
  let k4 = K - K % 4u;
  for (var k = 0u; k < k4; k += 4u) {
    acc += a_block(m0, k) * b_block(k, n0);
  }
  // The K tail, when K is not a multiple of 4, one scalar step at a time.
  for (var k = k4; k < K; k++) {
    let a = vec4f(
      a_scalar(m0, k),
      a_scalar(min(m0 + 1u, M - 1u), k),
      a_scalar(min(m0 + 2u, M - 1u), k),
      a_scalar(min(m0 + 3u, M - 1u), k),
    );
    acc[0] += a * b_scalar(k, n0);
    acc[1] += a * b_scalar(k, min(n0 + 1u, N - 1u));
    acc[2] += a * b_scalar(k, min(n0 + 2u, N - 1u));
    acc[3] += a * b_scalar(k, min(n0 + 3u, N - 1u));
  }
  for (var j = 0u; j < TILE; j++) {
    let n = n0 + j;
    if (n >= N) {
      break;
    }
    var bias_n = 0.0;
    if (HAS_BIAS) {
      bias_n = bias4[n];
    }
    for (var i = 0u; i < TILE; i++) {
      let m = m0 + i;
      if (m < M) {
        let idx = params.off_c + m * params.ldc + n;
        let v = acc[j][i] + bias_n;
        if (ACCUMULATE) {
          c4[idx] += v;
        } else {
          c4[idx] = v;
        }
      }
    }
  }
}
