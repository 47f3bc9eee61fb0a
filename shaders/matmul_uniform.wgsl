// The `uniform` variant of the matmul: matmul_subgroup_wide's tiling with both
// operands read from uniform buffers, for lavapipe. Needs the `subgroups`
// feature with subgroups of at least SPAN (8).
//
// Why: Mesa 25's llvmpipe loads a storage buffer one lane at a time, a loop of
// about 14 instructions a lane with a bounds check and a branch, but a
// uniform buffer with a branch-free gather (an extract, a load and an insert a
// lane). The same kernel reads 1.6-1.7x faster from uniform buffers. A uniform
// binding holds at most 64 KB, so the operands are first copied into panels
// whose every 64 KB window holds 64 values of k for 256 rows:
//
//   X (R rows, K columns): A as X(m, k) = A(m, k), B as X(n, k) = B(k, n),
//   whatever their stored layout. Panel p holds rows 256 p .. 256 p + 255, K
//   padded to a multiple of WINDOW_K (64) with zeros; window w of a panel
//   holds k from 64 w, laid out [k][r] (rows side by side) or, K_INNER, [r][k]
//   (values of k side by side): the layout of the operand as stored, so that
//   gemm can copy it in with texture copies (lavapipe's memcpy) where its
//   strides allow; elsewhere matmul_pack writes it. Rows past R may hold
//   anything: they reach only rows or columns of C that are not stored.
//
// One dispatch of matmul_uniform computes C's rows of one A panel by the
// columns of one B panel over up to WINDOWS windows of k; longer K takes
// several dispatches, each adding to C. A workgroup computes 32 rows by the
// panel's 256 columns, 4 columns a lane, as matmul_subgroup_wide: each lane
// gathers A at its own k and broadcasts it to the subgroup, and gathers its 4
// columns of B.
//
//   C(M,N) (+)= A(M,K) B(K,N) (+ bias(N)), gelu(C) into act when gelu_out

enable subgroups;

const PANEL: u32 = 256u;  // rows of an A panel, columns of a B panel
const WINDOW_K: u32 = 64u; // k values per window: 64 x 256 f32 = 64 KB
const ROWS: u32 = 32u;     // rows of C per workgroup
const LANES: u32 = 64u;    // lanes per workgroup, 4 columns each
const SPAN: u32 = 8u;      // k values one gather of A fetches across the subgroup

// ---- matmul_pack: X into panels ------------------------------------------

struct PackParams {
  rows: u32,       // R
  K: u32,
  row_stride: u32, // X(r, k) = source[offset + r * row_stride + k * k_stride]
  k_stride: u32,
  offset: u32,
  k_padded: u32,   // K rounded up to WINDOW_K
}

@group(0) @binding(0) var<uniform> pack: PackParams;
@group(0) @binding(1) var<storage, read_write> panels: array<f32>; // (panels, k_padded, 256) in windows
@group(0) @binding(2) var<storage, read> source: array<f32>;        // X (rows, K) at the strides above

// The panels' window layout (see the top): [k][r], or [r][k] when true.
override K_INNER: bool = false;

const PACK_K: u32 = 8u; // k values per workgroup of matmul_pack

// Where X(r, k) goes within the panels.
fn panel_index(r: u32, k: u32) -> u32 {
  let panel = (r / PANEL) * pack.k_padded * PANEL;
  if (K_INNER) {
    return panel + (k / WINDOW_K) * WINDOW_K * PANEL + (r % PANEL) * WINDOW_K + k % WINDOW_K;
  }
  return panel + k * PANEL + r % PANEL;
}

// Workgroup (p, j): panel p, k from PACK_K j; each lane 4 rows.
@compute @workgroup_size(LANES)
fn matmul_pack(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r0 = wg.x * PANEL + lid.x * 4u;
  for (var j = 0u; j < PACK_K; j++) {
    let k = wg.y * PACK_K + j;
    for (var t = 0u; t < 4u; t++) {
      let r = r0 + t;
      // Clamped so that no lane reads past the operand; the select zeroes it.
      let x = source[pack.offset + min(r, pack.rows - 1u) * pack.row_stride + min(k, pack.K - 1u) * pack.k_stride];
      panels[panel_index(r, k)] = select(0.0, x, r < pack.rows && k < pack.K);
    }
  }
}

// ---- matmul_uniform: C from A's and B's panels ----------------------------

struct Params {
  M: u32,
  N: u32,
  ldc: u32,
  off_c: u32,
  m_base: u32,   // C's row at row 0 of the A panel
  n_base: u32,   // C's column at column 0 of the B panel
  // k values taken from each window pair, a multiple of SPAN; 0: unused
  k_in0: u32,
  k_in1: u32,
  k_in2: u32,
  k_in3: u32,
  k_in4: u32,
  load_c: u32,   // add C's value (accumulating, or a later slice of k)
  add_bias: u32,
  gelu_out: u32, // write gelu(C) to act (the last slice of k)
}

const WINDOWS: u32 = 5u; // window pairs per dispatch: 10 of the 12 uniform bindings a stage may have

// Each operand's window layout (see the top): [k][r], or [r][k] when true.
override A_K_INNER: bool = false;
override B_K_INNER: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;   // (M,N), row stride ldc, from off_c
@group(0) @binding(2) var<storage, read> bias: array<f32>;      // (N) read when add_bias
@group(0) @binding(3) var<storage, read_write> act: array<f32>; // (M,N) gelu(C), addressed like C, written when gelu_out
// Window pairs: 64 values of k of the A panel (256 rows) and of the B panel
// (256 columns), 16384 f32 each, as vec4s.
@group(0) @binding(4) var<uniform> a0: array<vec4f, 4096>;
@group(0) @binding(5) var<uniform> a1: array<vec4f, 4096>;
@group(0) @binding(6) var<uniform> a2: array<vec4f, 4096>;
@group(0) @binding(7) var<uniform> a3: array<vec4f, 4096>;
@group(0) @binding(8) var<uniform> a4: array<vec4f, 4096>;
@group(0) @binding(9) var<uniform> b0: array<vec4f, 4096>;
@group(0) @binding(10) var<uniform> b1: array<vec4f, 4096>;
@group(0) @binding(11) var<uniform> b2: array<vec4f, 4096>;
@group(0) @binding(12) var<uniform> b3: array<vec4f, 4096>;
@group(0) @binding(13) var<uniform> b4: array<vec4f, 4096>;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

// One accumulator array per column of the lane: scalars, which Mesa keeps in
// registers and spills plainly; an array of vec4s it keeps in memory.
var<private> acc0: array<f32, ROWS>;
var<private> acc1: array<f32, ROWS>;
var<private> acc2: array<f32, ROWS>;
var<private> acc3: array<f32, ROWS>;

// The products over the first k_count values of k in one window pair: a (this
// workgroup's rows from row m0 of the A panel) and b (the lane's columns 4
// col4 .. 4 col4 + 3). A binding cannot be chosen at run time, so each window
// pair is a call of its own; Tint makes one copy of the function per pair.
fn window_products(
  a: ptr<uniform, array<vec4f, 4096>>,
  b: ptr<uniform, array<vec4f, 4096>>,
  k_count: u32,
  m0: u32,
  col4: u32,
  lane: u32,
) {
  for (var k0 = 0u; k0 < k_count; k0 += SPAN) {
    // A: each lane gathers 32 values (8 vec4s), which row_products broadcasts.
    // [k][r]: lane t has A(rows, k0 + t); [r][k]: lane 2 h + q has A(row
    // 4 j + h, k0 + 4 q .. 4 q + 3) at a_lane[4 j ..], a vec4 of each row.
    var a_lane: array<f32, ROWS>;
    let t = lane % SPAN;
    for (var j = 0u; j < ROWS / 4u; j++) {
      var v: vec4f;
      if (A_K_INNER) {
        v = (*a)[((m0 + 4u * j + t / 2u) * WINDOW_K + k0) / 4u + t % 2u];
      } else {
        v = (*a)[((k0 + t) * PANEL + m0) / 4u + j];
      }
      a_lane[4u * j] = v.x;
      a_lane[4u * j + 1u] = v.y;
      a_lane[4u * j + 2u] = v.z;
      a_lane[4u * j + 3u] = v.w;
    }
    // B at the subgroup's SPAN values of k, in this lane's 4 columns.
    var b_k: array<vec4f, SPAN>;
    if (B_K_INNER) {
      for (var j = 0u; j < 4u; j++) {
        let first = ((4u * col4 + j) * WINDOW_K + k0) / 4u;
        let lo = (*b)[first];
        let hi = (*b)[first + 1u];
        b_k[0][j] = lo.x;
        b_k[1][j] = lo.y;
        b_k[2][j] = lo.z;
        b_k[3][j] = lo.w;
        b_k[4][j] = hi.x;
        b_k[5][j] = hi.y;
        b_k[6][j] = hi.z;
        b_k[7][j] = hi.w;
      }
    } else {
      for (var s = 0u; s < SPAN; s++) {
        b_k[s] = (*b)[(k0 + s) * (PANEL / 4u) + col4];
      }
    }
    // Row by row, so that each accumulator is read and written once per SPAN
    // values of k rather than SPAN times (LLVM keeps them on the stack: 1.3x
    // faster), in loops of 8 rows, which Mesa unrolls (one of 32 it would
    // not, and accumulators indexed at run time live in memory).
    row_products(&a_lane, &b_k, 0u);
    row_products(&a_lane, &b_k, 8u);
    row_products(&a_lane, &b_k, 16u);
    row_products(&a_lane, &b_k, 24u);
  }
}

// acc(row i) += sum over t of x_t B(k0 + t, columns), in order of t, where
// x_lo and x_hi hold x_0 .. x_3 and x_4 .. x_7.
fn accumulate_row(i: u32, x_lo: vec4f, x_hi: vec4f, b_k: ptr<function, array<vec4f, SPAN>>) {
  var r = vec4f(acc0[i], acc1[i], acc2[i], acc3[i]);
  r = fma(vec4f(x_lo.x), (*b_k)[0], r);
  r = fma(vec4f(x_lo.y), (*b_k)[1], r);
  r = fma(vec4f(x_lo.z), (*b_k)[2], r);
  r = fma(vec4f(x_lo.w), (*b_k)[3], r);
  r = fma(vec4f(x_hi.x), (*b_k)[4], r);
  r = fma(vec4f(x_hi.y), (*b_k)[5], r);
  r = fma(vec4f(x_hi.z), (*b_k)[6], r);
  r = fma(vec4f(x_hi.w), (*b_k)[7], r);
  acc0[i] = r.x;
  acc1[i] = r.y;
  acc2[i] = r.z;
  acc3[i] = r.w;
}

// Rows first .. first + 7 over k0 .. k0 + 7. subgroupBroadcast takes a
// constant lane, hence the lanes written out.
// - [k][r] windows of A: lane t holds A(rows, k0 + t).
// - [r][k] windows: lane 2 h + q holds A(row 4 j + h, k0 + 4 q .. 4 q + 3) at
//   a_lane[4 j .. 4 j + 3], so the lanes to broadcast from depend on the row,
//   and the four rows of a vec4 are written out.
fn row_products(a_lane: ptr<function, array<f32, ROWS>>, b_k: ptr<function, array<vec4f, SPAN>>, first: u32) {
  if (A_K_INNER) {
    for (var j = first / 4u; j < first / 4u + 2u; j++) {
      let a = vec4f((*a_lane)[4u * j], (*a_lane)[4u * j + 1u], (*a_lane)[4u * j + 2u], (*a_lane)[4u * j + 3u]);
      accumulate_row(4u * j, subgroupBroadcast(a, 0u), subgroupBroadcast(a, 1u), b_k);
      accumulate_row(4u * j + 1u, subgroupBroadcast(a, 2u), subgroupBroadcast(a, 3u), b_k);
      accumulate_row(4u * j + 2u, subgroupBroadcast(a, 4u), subgroupBroadcast(a, 5u), b_k);
      accumulate_row(4u * j + 3u, subgroupBroadcast(a, 6u), subgroupBroadcast(a, 7u), b_k);
    }
  } else {
    for (var i = first; i < first + 8u; i++) {
      let a = (*a_lane)[i];
      let x_lo = vec4f(subgroupBroadcast(a, 0u), subgroupBroadcast(a, 1u), subgroupBroadcast(a, 2u), subgroupBroadcast(a, 3u));
      let x_hi = vec4f(subgroupBroadcast(a, 4u), subgroupBroadcast(a, 5u), subgroupBroadcast(a, 6u), subgroupBroadcast(a, 7u));
      accumulate_row(i, x_lo, x_hi, b_k);
    }
  }
}

// Workgroup (0, y): rows 32 y .. 32 y + 31 of the A panel, all 256 columns of the B panel.
@compute @workgroup_size(LANES)
fn matmul_uniform(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let m0 = wg.y * ROWS;
  window_products(&a0, &b0, params.k_in0, m0, lid.x, lane);
  window_products(&a1, &b1, params.k_in1, m0, lid.x, lane);
  window_products(&a2, &b2, params.k_in2, m0, lid.x, lane);
  window_products(&a3, &b3, params.k_in3, m0, lid.x, lane);
  window_products(&a4, &b4, params.k_in4, m0, lid.x, lane);
  // Copies for the epilogue's loop, which indexes by a loop counter: were the
  // accumulators themselves indexed so, they would live in memory through the k loop.
  var out0 = acc0;
  var out1 = acc1;
  var out2 = acc2;
  var out3 = acc3;
  let n = params.n_base + lid.x * 4u;
  for (var i = 0u; i < ROWS; i++) {
    let m = params.m_base + m0 + i;
    if (m < params.M) {
      let row = vec4f(out0[i], out1[i], out2[i], out3[i]);
      for (var j = 0u; j < 4u; j++) {
        if (n + j < params.N) {
          store_element(m, n + j, row[j]);
        }
      }
    }
  }
}

fn store_element(m: u32, n: u32, v: f32) {
  let idx = params.off_c + m * params.ldc + n;
  var out = v;
  if (params.load_c != 0u) {
    out += c[idx];
  }
  if (params.add_bias != 0u) {
    out += bias[n];
  }
  c[idx] = out;
  if (params.gelu_out != 0u) {
    act[idx] = gelu(out);
  }
}
