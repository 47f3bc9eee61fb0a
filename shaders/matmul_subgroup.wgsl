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
// Two entry points, both for any shape and alignment, the sums in a fixed order:
// - matmul_subgroup: ROWS rows of C by LANES x COLS columns a workgroup, COLS
//   (1 to 4) a lane;
// - matmul_subgroup_wide: WIDE_ROWS rows by WIDE_LANES x 4 columns, for matrices
//   that fill it. A load of B then feeds 32 multiply-adds and one of A 32
//   (16 and 16 in matmul_subgroup at 2 columns): 20-25% faster on lavapipe.
// Both need a subgroup size of at least SPAN (8); lanes past SPAN repeat the
// first SPAN's loads.

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
  // Batched products, as in matmul.wgsl
  batch_inner: u32,
  a_outer: u32,
  a_inner: u32,
  b_outer: u32,
  b_inner: u32,
  c_outer: u32,
  c_inner: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// Where this workgroup's product starts in each operand (see Params), set
// first thing by every matmul entry point.
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
// Lanes per workgroup (a multiple of SPAN): 64, fewer for narrow matrices,
// whose columns would leave lanes idle (attention's per-head products).
override LANES: u32 = 64u;
const SPAN: u32 = 8u;   // k values one load of A fetches across the subgroup
const MAX_COLS: u32 = 4u;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

fn a_at(m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return a[base_a + k * params.lda + m];
  }
  return a[base_a + m * params.lda + k];
}

fn b_at(k: u32, n: u32) -> f32 {
  if (TRANS_B) {
    return b[base_b + n * params.ldb + k];
  }
  return b[base_b + k * params.ldb + n];
}

// The bias of column n, 0 without one.
fn bias_at(n: u32) -> f32 {
  if (HAS_BIAS) {
    return bias[n];
  }
  return 0.0;
}

// C(m,n) from its sum plus bias: the old C added when accumulating, and
// GELU_OUT's gelu(C); the epilogue of both entry points.
fn store_element(m: u32, n: u32, v: f32) {
  let idx = base_c + m * params.ldc + n;
  var out = v;
  if (ACCUMULATE) {
    out += c[idx];
  }
  c[idx] = out;
  if (GELU_OUT) {
    act[idx] = gelu(out);
  }
}

@compute @workgroup_size(LANES)
fn matmul_subgroup(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  set_bases(wg.z);
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
      let bias_n = bias_at(n);
      for (var i = 0u; i < ROWS; i++) {
        let m = m0 + i;
        if (m < M) {
          store_element(m, n, acc[i][j] + bias_n);
        }
      }
    }
  }
}

// matmul_subgroup_wide: rows of C per workgroup. 32 is as far as it goes:
// Mesa unrolls the loops over rows only while their bodies stay small, and a
// loop left rolled indexes the accumulators at run time, which puts them in
// memory (three times slower).
const WIDE_ROWS: u32 = 32u;
const WIDE_LANES: u32 = 64u; // lanes per workgroup

// B at row k and four columns (from n, the lane's columns clamped to N-1).
fn b_columns(k: u32, n: vec4u) -> vec4f {
  return vec4f(b_at(k, n.x), b_at(k, n.y), b_at(k, n.z), b_at(k, n.w));
}

// matmul_subgroup_wide's accumulators: an array per column of the lane, of
// scalars, not of vec4s, which Mesa keeps in memory.
var<private> wide_acc0: array<f32, WIDE_ROWS>;
var<private> wide_acc1: array<f32, WIDE_ROWS>;
var<private> wide_acc2: array<f32, WIDE_ROWS>;
var<private> wide_acc3: array<f32, WIDE_ROWS>;

// Accumulator row i += sum over t of x_t B(k0 + t, columns), in order of t,
// where x_lo and x_hi hold x_0 .. x_3 and x_4 .. x_7.
fn accumulate_row(i: u32, x_lo: vec4f, x_hi: vec4f, b_k: ptr<function, array<vec4f, SPAN>>) {
  var r = vec4f(wide_acc0[i], wide_acc1[i], wide_acc2[i], wide_acc3[i]);
  r = fma(vec4f(x_lo.x), (*b_k)[0], r);
  r = fma(vec4f(x_lo.y), (*b_k)[1], r);
  r = fma(vec4f(x_lo.z), (*b_k)[2], r);
  r = fma(vec4f(x_lo.w), (*b_k)[3], r);
  r = fma(vec4f(x_hi.x), (*b_k)[4], r);
  r = fma(vec4f(x_hi.y), (*b_k)[5], r);
  r = fma(vec4f(x_hi.z), (*b_k)[6], r);
  r = fma(vec4f(x_hi.w), (*b_k)[7], r);
  wide_acc0[i] = r.x;
  wide_acc1[i] = r.y;
  wide_acc2[i] = r.z;
  wide_acc3[i] = r.w;
}

// Rows first .. first + 7 over k0 .. k0 + 7, lane t holding A(rows, k0 + t):
// row by row, so that each accumulator is read and written once per SPAN
// values of k (LLVM keeps them on the stack), in loops of 8 rows, which Mesa
// unrolls. subgroupBroadcast takes a constant lane, hence the eight written out.
fn row_products(a_lane: ptr<function, array<f32, WIDE_ROWS>>, b_k: ptr<function, array<vec4f, SPAN>>, first: u32) {
  for (var i = first; i < first + 8u; i++) {
    let a = (*a_lane)[i];
    let x_lo = vec4f(subgroupBroadcast(a, 0u), subgroupBroadcast(a, 1u), subgroupBroadcast(a, 2u), subgroupBroadcast(a, 3u));
    let x_hi = vec4f(subgroupBroadcast(a, 4u), subgroupBroadcast(a, 5u), subgroupBroadcast(a, 6u), subgroupBroadcast(a, 7u));
    accumulate_row(i, x_lo, x_hi, b_k);
  }
}

// As matmul_subgroup, with each lane's four columns WIDE_LANES apart.
@compute @workgroup_size(WIDE_LANES)
fn matmul_subgroup_wide(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  set_bases(wg.z);
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let last = K - 1u;
  let m0 = wg.y * WIDE_ROWS;
  let n0 = wg.x * WIDE_LANES * 4u + lid.x;
  let n = vec4u(n0) + vec4u(0u, 1u, 2u, 3u) * WIDE_LANES;
  let n_load = min(n, vec4u(N - 1u));
  // Lanes past N load column N-1 and store nothing.
  for (var k0 = 0u; k0 < K; k0 += SPAN) {
    // This lane's k, as in matmul_subgroup.
    let k_lane = k0 + lane % SPAN;
    let k_load = min(k_lane, last);
    var a_lane: array<f32, WIDE_ROWS>;
    for (var i = 0u; i < WIDE_ROWS; i++) {
      a_lane[i] = select(0.0, a_at(min(m0 + i, M - 1u), k_load), k_lane < K);
    }
    // B at the subgroup's SPAN values of k (past K, B's last row, which
    // meets A's zeros), in this lane's 4 columns.
    var b_k: array<vec4f, SPAN>;
    for (var t = 0u; t < SPAN; t++) {
      b_k[t] = b_columns(min(k0 + t, last), n_load);
    }
    row_products(&a_lane, &b_k, 0u);
    row_products(&a_lane, &b_k, 8u);
    row_products(&a_lane, &b_k, 16u);
    row_products(&a_lane, &b_k, 24u);
  }
  // Copies for the epilogue's loop, which indexes by a loop counter: were the
  // accumulators themselves indexed so, they would live in memory through the k loop.
  var out0 = wide_acc0;
  var out1 = wide_acc1;
  var out2 = wide_acc2;
  var out3 = wide_acc3;
  for (var i = 0u; i < WIDE_ROWS; i++) {
    store_row(m0 + i, vec4f(out0[i], out1[i], out2[i], out3[i]), n);
  }
}

fn store_row(m: u32, out: vec4f, n: vec4u) {
  if (m < params.M) {
    for (var j = 0u; j < 4u; j++) {
      if (n[j] < params.N) {
        store_element(m, n[j], out[j] + bias_at(n[j]));
      }
    }
  }
}
