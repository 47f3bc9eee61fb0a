// The matmul for a few rows: C(M,N) (+)= A(M,K) B(K,N) (+ bias(N)) with
// M <= MAX_ROWS and A stored (M,K), as decoding runs it (one row per sequence:
// every linear layer and the LM head of a generation step). Same Params,
// operands and epilogue (ACCUMULATE, HAS_BIAS, GELU_OUT) as matmul.wgsl.
//
// On a GPU the blocked kernel would spend a 64-row tile on 4 rows; here a
// workgroup of 64 lanes owns 64 columns, a lane each, for all of A's rows,
// and the weight, which a decoding step reads whole and which bounds it, is
// read once, coalesced:
// - B stored (K,N) (matmul_skinny_nn): each lane walks k down its column;
//   the lanes read neighbouring columns of a row of B.
// - B stored (N,K) (matmul_skinny_nt; the model's weights): a column is a
//   row of B, so the workgroup stages 64 rows x 32 values of k through
//   workgroup memory, reading along the rows, and the next chunk's loads
//   overlap the current one's multiply-adds.
// Each (row, column) is one accumulator summed over k in ascending order,
// as in the blocked kernel: the decoding path's logits are the training
// pass's sums, not merely close to them (generation's tests compare the KV
// cache against recomputing every prefix token for token).
// A split of k across lanes would read faster but add in another order.

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
// Values of k staged per step with B stored (N,K), and A's values each lane stages.
const CHUNK: u32 = 32u;
const A_LOADS: u32 = MAX_ROWS * CHUNK / LANES;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

// matmul_skinny_nt's staged chunk: B as [k][column] (one spare column
// against bank conflicts of the transposing stores), A as [row][k].
var<workgroup> b_chunk: array<array<f32, LANES + 1u>, CHUNK>;
var<workgroup> a_chunk: array<array<f32, CHUNK>, MAX_ROWS>;

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

// B stored (N,K): a lane per column here too, its weights staged through
// workgroup memory so that they are read coalesced (a row of B is contiguous
// along k, and a lane per column would read 64 rows at once).
@compute @workgroup_size(LANES)
fn matmul_skinny_nt(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  set_bases(wg.z);
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let lane = lid.x;
  let n0 = wg.x * LANES;
  var acc: array<f32, MAX_ROWS>;
  // Chunk values each lane loads: B's LANES x CHUNK block, then A's MAX_ROWS x CHUNK.
  var b_next: array<f32, CHUNK>;
  var a_next: array<f32, A_LOADS>;
  load_chunk_nt(n0, 0u, lane, &b_next, &a_next);
  for (var k0 = 0u; k0 < K; k0 += CHUNK) {
    for (var i = 0u; i < CHUNK; i++) {
      let e = lane + i * LANES; // (column, k) = (e / CHUNK, e % CHUNK): k fastest, as loaded
      b_chunk[e % CHUNK][e / CHUNK] = b_next[i];
    }
    for (var i = 0u; i < A_LOADS; i++) {
      let e = lane + i * LANES;
      a_chunk[e / CHUNK][e % CHUNK] = a_next[i];
    }
    workgroupBarrier();
    if (k0 + CHUNK < K) {
      load_chunk_nt(n0, k0 + CHUNK, lane, &b_next, &a_next);
    }
    // k ascending into one accumulator per (row, column): the blocked
    // kernel's order, so a decoding step repeats the training pass's sums.
    let depth = min(CHUNK, K - k0);
    for (var k = 0u; k < depth; k++) {
      let bk = b_chunk[k][lane];
      for (var m = 0u; m < MAX_ROWS; m++) {
        acc[m] += a_chunk[m][k] * bk;
      }
    }
    workgroupBarrier();
  }
  let n = n0 + lane;
  if (n < N) {
    for (var m = 0u; m < M; m++) {
      store_c(m, n, acc[m]);
    }
  }
}

// The LANES x CHUNK block of B (rows n0.., k0..) and A's rows at k0..,
// numbered with k fastest so that lanes read along rows; 0 outside.
fn load_chunk_nt(n0: u32, k0: u32, lane: u32, b_next: ptr<function, array<f32, CHUNK>>, a_next: ptr<function, array<f32, A_LOADS>>) {
  for (var i = 0u; i < CHUNK; i++) {
    let e = lane + i * LANES;
    let n = n0 + e / CHUNK;
    let k = k0 + e % CHUNK;
    var v = 0.0;
    if (n < params.N && k < params.K) {
      v = b[base_b + n * params.ldb + k];
    }
    (*b_next)[i] = v;
  }
  for (var i = 0u; i < A_LOADS; i++) {
    let e = lane + i * LANES;
    let m = e / CHUNK;
    let k = k0 + e % CHUNK;
    var v = 0.0;
    if (m < params.M && k < params.K) {
      v = a[base_a + m * params.lda + k];
    }
    (*a_next)[i] = v;
  }
}
