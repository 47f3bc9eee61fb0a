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
//   whatever their stored layout. Panel p holds rows 256 p .. 256 p + 255 as
//   P[p][k][r] = X(256 p + r, k), K padded to a multiple of WINDOW_K (64) with
//   zeros; window w of a panel is P[p][64 w .. 64 w + 63][0..255]. Where X's
//   rows lie side by side in the operand, gemm copies them in with texture
//   copies (lavapipe's memcpy); elsewhere matmul_pack writes them. Rows past R
//   may hold anything: they reach only rows or columns of C that are not stored.
//   (A layout [r][k] within windows, copyable from the other operands, made
//   the kernel slower than the packing it saved.)
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
@group(0) @binding(1) var<storage, read_write> panels: array<vec4f>;
@group(0) @binding(2) var<storage, read> source: array<f32>;

const PACK_K: u32 = 8u; // k values per workgroup of matmul_pack

// Workgroup (p, j): panel p, k from PACK_K j; each lane writes 4 rows at a time.
@compute @workgroup_size(LANES)
fn matmul_pack(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r0 = wg.x * PANEL + lid.x * 4u;
  for (var j = 0u; j < PACK_K; j++) {
    let k = wg.y * PACK_K + j;
    var v = vec4f(0.0);
    for (var t = 0u; t < 4u; t++) {
      let r = r0 + t;
      // Clamped so that no lane reads past the operand; the select zeroes it.
      let x = source[pack.offset + min(r, pack.rows - 1u) * pack.row_stride + min(k, pack.K - 1u) * pack.k_stride];
      v[t] = select(0.0, x, r < pack.rows && k < pack.K);
    }
    panels[((wg.x * pack.k_padded + k) * PANEL + lid.x * 4u) / 4u] = v;
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

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> c: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> act: array<f32>;
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
    // This lane's k: one gather fetches SPAN values of a row across the subgroup.
    var a_lane: array<f32, ROWS>;
    let first = ((k0 + lane % SPAN) * PANEL + m0) / 4u;
    for (var i = 0u; i < ROWS / 4u; i++) {
      let v = (*a)[first + i];
      a_lane[4u * i] = v.x;
      a_lane[4u * i + 1u] = v.y;
      a_lane[4u * i + 2u] = v.z;
      a_lane[4u * i + 3u] = v.w;
    }
    // B at the subgroup's SPAN values of k, in this lane's 4 columns.
    var b_k: array<vec4f, SPAN>;
    for (var t = 0u; t < SPAN; t++) {
      b_k[t] = (*b)[(k0 + t) * (PANEL / 4u) + col4];
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

// acc(rows first .. first + 7) += A(rows, k0 .. k0 + 7) B(k0 .. k0 + 7, columns),
// in order of k; A's value at k0 + t comes from lane t. subgroupBroadcast
// takes a constant lane, hence the eight written out.
fn row_products(a_lane: ptr<function, array<f32, ROWS>>, b_k: ptr<function, array<vec4f, SPAN>>, first: u32) {
  for (var i = first; i < first + 8u; i++) {
    let a = (*a_lane)[i];
    var r = vec4f(acc0[i], acc1[i], acc2[i], acc3[i]);
    r = fma(vec4f(subgroupBroadcast(a, 0u)), (*b_k)[0], r);
    r = fma(vec4f(subgroupBroadcast(a, 1u)), (*b_k)[1], r);
    r = fma(vec4f(subgroupBroadcast(a, 2u)), (*b_k)[2], r);
    r = fma(vec4f(subgroupBroadcast(a, 3u)), (*b_k)[3], r);
    r = fma(vec4f(subgroupBroadcast(a, 4u)), (*b_k)[4], r);
    r = fma(vec4f(subgroupBroadcast(a, 5u)), (*b_k)[5], r);
    r = fma(vec4f(subgroupBroadcast(a, 6u)), (*b_k)[6], r);
    r = fma(vec4f(subgroupBroadcast(a, 7u)), (*b_k)[7], r);
    acc0[i] = r.x;
    acc1[i] = r.y;
    acc2[i] = r.z;
    acc3[i] = r.w;
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
