// The matmul for a few rows: C(M,N) (+)= A(M,K) B(K,N) (+ bias(N)) with
// M <= MAX_ROWS and A stored (M,K), as decoding runs it (one row per sequence:
// every linear layer and the LM head of a generation step). Same Params,
// operands and epilogue (ACCUMULATE, HAS_BIAS, GELU_OUT) as matmul.wgsl.
//
// On a GPU the blocked kernel would spend a 64-row tile on 4 rows and give a
// whole K loop to a few workgroups; here the work is spread over the weight,
// which is what a decoding step reads (all of it, once) and what bounds it:
// - B stored (N,K) (matmul_skinny_nt; the model's weights): a workgroup owns COLS
//   columns; its lanes stride along k, so each column's weights are read
//   coalesced, multiply every row of A, and the LANES partial sums of each
//   (row, column) are then added in lane order (a fixed order).
// - B stored (K,N) (matmul_skinny_nn): a lane owns a column and walks k; the lanes of a
//   workgroup read neighbouring columns of each row of B.
// A's few rows are read by every workgroup and stay in cache.

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
  // Batched products, as in matmul.wgsl: product z = wg.z.
  batch_inner: u32,
  a_outer: u32,
  a_inner: u32,
  b_outer: u32,
  b_inner: u32,
  c_outer: u32,
  c_inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;   // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a: array<f32>;         // (M,K)
@group(0) @binding(3) var<storage, read> b: array<f32>;         // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act: array<f32>; // (M,N) gelu(C), written when GELU_OUT

override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;
override GELU_OUT: bool = false;

const LANES: u32 = 64u;
const MAX_ROWS: u32 = 8u;
// Columns of C per workgroup with B stored (N,K).
const COLS: u32 = 4u;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

// Each lane's partial sums, [row * COLS + column][lane].
var<workgroup> partial: array<array<f32, LANES>, MAX_ROWS * COLS>;

var<private> base_a: u32;
var<private> base_b: u32;
var<private> base_c: u32;

fn set_bases(z: u32) {
  let outer = z / params.batch_inner;
  let inner = z % params.batch_inner;
  base_a = params.off_a + outer * params.a_outer + inner * params.a_inner;
  base_b = params.off_b + outer * params.b_outer + inner * params.b_inner;
  base_c = params.off_c + outer * params.c_outer + inner * params.c_inner;
}

fn store_c(m: u32, n: u32, v: f32) {
  var out = v;
  if (HAS_BIAS) {
    out += bias[n];
  }
  let idx = base_c + m * params.ldc + n;
  if (ACCUMULATE) {
    out += c[idx];
  }
  c[idx] = out;
  if (GELU_OUT) {
    act[idx] = gelu(out);
  }
}

// B stored (K,N): a lane per column.
@compute @workgroup_size(LANES)
fn matmul_skinny_nn(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  set_bases(wg.z);
  let n = wg.x * LANES + lid.x;
  if (n >= params.N) {
    return;
  }
  var acc: array<f32, MAX_ROWS>;
  for (var k = 0u; k < params.K; k++) {
    let bk = b[base_b + k * params.ldb + n];
    for (var m = 0u; m < MAX_ROWS; m++) {
      if (m < params.M) {
        acc[m] += a[base_a + m * params.lda + k] * bk;
      }
    }
  }
  for (var m = 0u; m < params.M; m++) {
    store_c(m, n, acc[m]);
  }
}

// B stored (N,K): COLS columns a workgroup, lanes along k.
@compute @workgroup_size(LANES)
fn matmul_skinny_nt(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  set_bases(wg.z);
  let M = params.M;
  let N = params.N;
  let lane = lid.x;
  let n0 = wg.x * COLS;
  var acc: array<f32, MAX_ROWS * COLS>;
  for (var k = lane; k < params.K; k += LANES) {
    // Columns past N reload the last one; their sums are never stored.
    var bk: array<f32, COLS>;
    for (var j = 0u; j < COLS; j++) {
      bk[j] = b[base_b + min(n0 + j, N - 1u) * params.ldb + k];
    }
    for (var m = 0u; m < MAX_ROWS; m++) {
      if (m < M) {
        let am = a[base_a + m * params.lda + k];
        for (var j = 0u; j < COLS; j++) {
          acc[m * COLS + j] += am * bk[j];
        }
      }
    }
  }
  for (var i = 0u; i < MAX_ROWS * COLS; i++) {
    partial[i][lane] = acc[i];
  }
  workgroupBarrier();
  // One lane per (row, column) adds the lanes' partial sums in lane order.
  if (lane < MAX_ROWS * COLS) {
    let m = lane / COLS;
    let n = n0 + lane % COLS;
    if (m < M && n < N) {
      var sum = 0.0;
      for (var l = 0u; l < LANES; l++) {
        sum += partial[lane][l];
      }
      store_c(m, n, sum);
    }
  }
}
