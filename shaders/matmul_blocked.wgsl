// The GPU-class matmul: C(M,N) (+)= A(M,K) B(K,N) (+ bias(N)), with the same
// operands, layouts (TRANS_A, TRANS_B), batches and epilogue (ACCUMULATE,
// HAS_BIAS, GELU_OUT) as shaders/matmul.wgsl, whose Params it shares.
//
// For real GPUs, which reward what CPU rasterisers punish: a workgroup of
// WG_X x WG_Y threads owns a BM x BN block of C (BM = 8 WG_Y, BN = 8 WG_X:
// 128 x 128 for 16 x 16 threads) and each thread an 8 x 8 sub-block in
// registers (2-D register blocking). The block's panels of A (BM x BK) and B
// (BK x BN) are staged through workgroup memory; each thread then reads, per
// k, two vec4s of A and two of B from it and does 64 multiply-adds, so one
// value read from global memory serves BM (or BN) multiply-adds.
//
// - Global loads: every operand is read as f32 with the lane index running
//   along its stored contiguous dimension, so a subgroup reads whole runs of
//   memory whichever layout (and with any leading dimension or offset: no
//   alignment is required). The next panel is loaded into registers while
//   the current one is multiplied, hiding memory latency behind arithmetic.
// - Workgroup memory is laid out [k][m] and [k][n] as vec4s, so a thread's
//   four rows (or columns) are one 16-byte read. Its rows are ty*4 .. ty*4+3
//   and BM/2 + ty*4 .. (columns likewise): within a subgroup the B reads are
//   consecutive vec4s and the A reads a few broadcast ones, free of bank
//   conflicts. Each k row of a panel is padded by one vec4, so that panels
//   written with the lane running along k (A stored (M,K), B stored (N,K))
//   spread their stores over the banks.
// - Edges: values of A and B outside the matrices are staged as 0, and only
//   the part of the block inside C is stored; any M, N, K.
// The sums run in a fixed order (k ascending, one accumulator per element of
// C), so results are deterministic; no atomics.

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
  // Batched products: product z = wg.z, numbered z = outer * batch_inner + inner,
  // has its operands at off + outer * x_outer + inner * x_inner (see matmul.wgsl).
  batch_inner: u32,
  a_outer: u32,
  a_inner: u32,
  b_outer: u32,
  b_inner: u32,
  c_outer: u32,
  c_inner: u32,
  // Split-K (SPLIT_K): workgroup z sums k in [z k_split, (z + 1) k_split) into
  // partial sums `splits` apart (c_outer = M N, C's epilogue off); then
  // matmul_blocked_combine adds the `splits` partial sums, in order, into C.
  k_split: u32,
  splits: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;   // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a: array<f32>;         // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b: array<f32>;         // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act: array<f32>; // (M,N) gelu(C), written when GELU_OUT

// matmul_blocked_combine: C's bindings as above, and the split-K partial sums
@group(0) @binding(2) var<storage, read> partials: array<f32>; // (splits,M,N)

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;
override GELU_OUT: bool = false;
// Threads of a workgroup along N and along M (each a multiple of 2), and the
// depth of a staged panel (a multiple of 4 dividing WG_X * WG_Y * 2).
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override BK: u32 = 16u;
// Each workgroup z sums one slice of k into a partial product (see Params).
override SPLIT_K: bool = false;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

// Panels in workgroup memory: [k][m / 4] and [k][n / 4] as vec4s, one vec4 of
// padding per k row (see above). The sizes follow the override constants.
const PAD: u32 = 1u;
var<workgroup> a_panel: array<vec4f, BK * (2u * WG_Y + PAD)>;
var<workgroup> b_panel: array<vec4f, BK * (2u * WG_X + PAD)>;

// Values of one panel each thread loads (at most 16: 128 x 16 panels over 128 threads).
const MAX_LOADS: u32 = 16u;

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

// Element e (0 .. rows * BK) of a panel of `rows` rows of X (m or n) by BK
// values of k, numbered with the stored contiguous dimension fastest: along k
// when the operand is stored with k contiguous (`k_inner`), else along the rows.
fn panel_coords(e: u32, rows: u32, k_inner: bool) -> vec2u {
  if (k_inner) {
    return vec2u(e / BK, e % BK); // (row, k)
  }
  return vec2u(e % rows, e / rows);
}

// The end of the workgroup's slice of k (K without split-K).
var<private> k_end: u32;

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= k_end) {
    return 0.0;
  }
  if (TRANS_A) {
    return a[base_a + k * params.lda + m];
  }
  return a[base_a + m * params.lda + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  if (k >= k_end || n >= params.N) {
    return 0.0;
  }
  if (TRANS_B) {
    return b[base_b + n * params.ldb + k];
  }
  return b[base_b + k * params.ldb + n];
}

fn store_c(m: u32, n: u32, v: f32) {
  if (m >= params.M || n >= params.N) {
    return;
  }
  if (SPLIT_K) {
    c[base_c + m * params.ldc + n] = v;
    return;
  }
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

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_blocked(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) flat: u32,
) {
  set_bases(wg.z);
  let BM = 8u * WG_Y;
  let BN = 8u * WG_X;
  let threads = WG_X * WG_Y;
  let a_row = 2u * WG_Y + PAD; // vec4s per k row of a panel
  let b_row = 2u * WG_X + PAD;
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  let a_loads = BM * BK / threads;
  let b_loads = BN * BK / threads;

  // The next panels' values, loaded ahead into registers.
  var a_next: array<f32, MAX_LOADS>;
  var b_next: array<f32, MAX_LOADS>;
  // acc[r * 2 + h] holds C[row r of the thread's 8][columns h*BN/2 + tx*4 .. +3].
  var acc: array<vec4f, 16>;

  // Kept in function-scope values, which the uniformity analysis sees are
  // the same across the workgroup (the barriers in the loop need that).
  let k_begin = select(0u, wg.z * params.k_split, SPLIT_K);
  let k_stop = select(params.K, min(params.K, k_begin + params.k_split), SPLIT_K);
  k_end = k_stop;
  // Panels ahead of the one being multiplied: load the first before the loop.
  for (var i = 0u; i < a_loads; i++) {
    let p = panel_coords(flat + i * threads, BM, !TRANS_A);
    a_next[i] = load_a(m0 + p.x, k_begin + p.y);
  }
  for (var i = 0u; i < b_loads; i++) {
    let p = panel_coords(flat + i * threads, BN, TRANS_B);
    b_next[i] = load_b(k_begin + p.y, n0 + p.x);
  }

  for (var k0 = k_begin; k0 < k_stop; k0 += BK) {
    // Stage the loaded panel.
    for (var i = 0u; i < a_loads; i++) {
      let p = panel_coords(flat + i * threads, BM, !TRANS_A);
      a_panel[p.y * a_row + p.x / 4u][p.x % 4u] = a_next[i];
    }
    for (var i = 0u; i < b_loads; i++) {
      let p = panel_coords(flat + i * threads, BN, TRANS_B);
      b_panel[p.y * b_row + p.x / 4u][p.x % 4u] = b_next[i];
    }
    workgroupBarrier();
    // Load the next panel while this one is multiplied.
    let k1 = k0 + BK;
    if (k1 < k_stop) {
      for (var i = 0u; i < a_loads; i++) {
        let p = panel_coords(flat + i * threads, BM, !TRANS_A);
        a_next[i] = load_a(m0 + p.x, k1 + p.y);
      }
      for (var i = 0u; i < b_loads; i++) {
        let p = panel_coords(flat + i * threads, BN, TRANS_B);
        b_next[i] = load_b(k1 + p.y, n0 + p.x);
      }
    }
    for (var k = 0u; k < BK; k++) {
      let a_lo = a_panel[k * a_row + lid.y];
      let a_hi = a_panel[k * a_row + WG_Y + lid.y];
      let b_lo = b_panel[k * b_row + lid.x];
      let b_hi = b_panel[k * b_row + WG_X + lid.x];
      for (var r = 0u; r < 4u; r++) {
        acc[r * 2u] += a_lo[r] * b_lo;
        acc[r * 2u + 1u] += a_lo[r] * b_hi;
        acc[(r + 4u) * 2u] += a_hi[r] * b_lo;
        acc[(r + 4u) * 2u + 1u] += a_hi[r] * b_hi;
      }
    }
    workgroupBarrier();
  }

  for (var r = 0u; r < 8u; r++) {
    let m = m0 + (r / 4u) * (BM / 2u) + lid.y * 4u + r % 4u;
    for (var h = 0u; h < 2u; h++) {
      let n = n0 + h * (BN / 2u) + lid.x * 4u;
      let v = acc[r * 2u + h];
      store_c(m, n, v.x);
      store_c(m, n + 1u, v.y);
      store_c(m, n + 2u, v.z);
      store_c(m, n + 3u, v.w);
    }
  }
}

// C (+)= the sum of the split-K partial products, in split order (then bias,
// C's previous value and gelu, as the one-pass epilogue adds them).
@compute @workgroup_size(64)
fn matmul_blocked_combine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  base_c = params.off_c;
  let MN = params.M * params.N;
  for (var i = gid.x; i < MN; i += groups.x * 64u) {
    var sum = 0.0;
    for (var s = 0u; s < params.splits; s++) {
      sum += partials[s * MN + i];
    }
    store_c(i / params.N, i % params.N, sum);
  }
}
