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
// Four variants here and a fifth, `matmul_subgroup`, in matmul_subgroup.wgsl
// (it needs the subgroups feature), because CPU rasterisers and GPUs reward
// opposite shapes of kernel (src/gpu/autotune.ts picks one per adapter):
// - `matmul`: register-tiled, scalar loads, any shape and alignment.
// - `matmul_vec4`: register-tiled, each thread a 4x4 block of C read as vec4
//   blocks of A and B multiplied as mat4x4. Needs the contiguous dimension of
//   each operand (and its offset) to be a multiple of 4.
// - `matmul_bcast`: for CPU rasterisers (lavapipe, SwiftShader), which run a
//   workgroup's invocations as the lanes of SIMD registers. There a load whose
//   address is the same in every lane is one scalar load and a broadcast,
//   while a load that differs per lane is a loop over the lanes. So the rows
//   of A a workgroup needs are made workgroup-uniform (ROWS rows per
//   workgroup) and only B is read per lane, a vec4 at a time. Needs B's
//   contiguous dimension and offset to be multiples of 4; A takes any layout.
//   (Measured on lavapipe, Mesa 25: the premise does not hold there. Its
//   machine code loads every lane separately, uniform address or not, so at
//   GPT-2 layer shapes this variant runs level with `vec4`, not ahead of it;
//   matmul_subgroup is what works there.)
// - `matmul_tiled`: for GPUs. A 64x64 block of C per 16x16 workgroup, the A
//   and B panels staged through workgroup memory between barriers, so each
//   element read from memory serves 64 multiply-adds. Any shape. On a CPU
//   rasteriser every barrier suspends and resumes each invocation, which
//   makes it the slowest variant there.
// No variant uses atomics; the sums run in a fixed order per variant.
//
// GELU_OUT fuses the MLP's activation into the epilogue: besides C (the
// pre-activation, which the backward pass needs) it writes gelu(C) to a
// second matrix with C's addressing, saving a kernel that would read C back.

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
  // Batched products (gemm's `batch`): product z = wg.z, numbered
  // z = outer * batch_inner + inner, has its operands at off + outer * x_outer
  // + inner * x_inner; one product has z = 0 and so the offsets above.
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

// matmul
@group(0) @binding(1) var<storage, read_write> c: array<f32>; // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a: array<f32>;       // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b: array<f32>;       // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act: array<f32>; // (M,N) gelu(C), written when GELU_OUT

// matmul_vec4: the same operands seen as vec4s along their contiguous dimension
@group(0) @binding(1) var<storage, read_write> c4: array<f32>; // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a4: array<vec4f>;    // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b4: array<vec4f>;    // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias4: array<f32>;   // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act4: array<f32>; // (M,N) gelu(C), written when GELU_OUT

// matmul_backward_bias: dbias(N) += column sums of dout(M,N)
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>; // (N)
@group(0) @binding(2) var<storage, read> dout: array<f32>;        // (M,N), row stride ldc, offset off_c

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;
override GELU_OUT: bool = false;

const GELU_SCALE: f32 = 0.7978845608028654; // sqrt(2/pi)

// As in gelu.wgsl: 0.5 (1 + tanh(u)) written as sigmoid(2u).
fn gelu(x: f32) -> f32 {
  return x / (1.0 + exp(-2.0 * GELU_SCALE * (x + 0.044715 * x * x * x)));
}

const TILE: u32 = 4u;
const WG: u32 = 8u;

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

@compute @workgroup_size(WG, WG)
fn matmul(@builtin(global_invocation_id) gid: vec3u) {
  set_bases(gid.z);
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
        let idx = base_c + m * params.ldc + n;
        var out = v[j];
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
    let base = base_a + m0;
    return mat4x4f(
      a4[(base + k * params.lda) / 4u],
      a4[(base + (k + 1u) * params.lda) / 4u],
      a4[(base + (k + 2u) * params.lda) / 4u],
      a4[(base + (k + 3u) * params.lda) / 4u],
    );
  }
  // stored (M,K): each m is a contiguous run of k; rows past M are clamped
  let last = params.M - 1u;
  let base = base_a + k;
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
    let base = base_b + k;
    return mat4x4f(
      b4[(base + n0 * params.ldb) / 4u],
      b4[(base + min(n0 + 1u, last) * params.ldb) / 4u],
      b4[(base + min(n0 + 2u, last) * params.ldb) / 4u],
      b4[(base + min(n0 + 3u, last) * params.ldb) / 4u],
    );
  }
  // stored (K,N): each k is a contiguous run of n
  let base = base_b + n0;
  return transpose(mat4x4f(
    b4[(base + k * params.ldb) / 4u],
    b4[(base + (k + 1u) * params.ldb) / 4u],
    b4[(base + (k + 2u) * params.ldb) / 4u],
    b4[(base + (k + 3u) * params.ldb) / 4u],
  ));
}

fn a_scalar(m: u32, k: u32) -> f32 {
  let i = select(base_a + m * params.lda + k, base_a + k * params.lda + m, TRANS_A);
  return a4[i / 4u][i % 4u];
}

fn b_scalar(k: u32, n: u32) -> f32 {
  let i = select(base_b + k * params.ldb + n, base_b + n * params.ldb + k, TRANS_B);
  return b4[i / 4u][i % 4u];
}

@compute @workgroup_size(WG, WG)
fn matmul_vec4(@builtin(global_invocation_id) gid: vec3u) {
  set_bases(gid.z);
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
        let idx = base_c + m * params.ldc + n;
        var out = acc[j][i] + bias_n;
        if (ACCUMULATE) {
          out += c4[idx];
        }
        c4[idx] = out;
        if (GELU_OUT) {
          act4[idx] = gelu(out);
        }
      }
    }
  }
}

// matmul_bcast
@group(0) @binding(1) var<storage, read_write> c_bc: array<f32>; // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a_bc: array<f32>;       // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b_bc: array<vec4f>;     // (K,N) or (N,K), as vec4s along the contiguous dimension
@group(0) @binding(4) var<storage, read> bias_bc: array<f32>;    // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act_bc: array<f32>; // (M,N) gelu(C), written when GELU_OUT

// Rows of C per workgroup in matmul_bcast (at most BCAST_MAX_ROWS).
override ROWS: u32 = 8u;
const BCAST_MAX_ROWS: u32 = 8u;
const BCAST_WG: u32 = 64u;

fn a_bc_at(m: u32, k: u32) -> f32 {
  if (TRANS_A) {
    return a_bc[base_a + k * params.lda + m];
  }
  return a_bc[base_a + m * params.lda + k];
}

fn b_bc_scalar(k: u32, n: u32) -> f32 {
  let i = select(base_b + k * params.ldb + n, base_b + n * params.ldb + k, TRANS_B);
  return b_bc[i / 4u][i % 4u];
}

fn store_bc(m: u32, n: u32, v: f32) {
  if (m >= params.M || n >= params.N) {
    return;
  }
  var out = v;
  if (HAS_BIAS) {
    out += bias_bc[n];
  }
  let idx = base_c + m * params.ldc + n;
  if (ACCUMULATE) {
    out += c_bc[idx];
  }
  c_bc[idx] = out;
  if (GELU_OUT) {
    act_bc[idx] = gelu(out);
  }
}

// Rows m0.. of C are uniform across the workgroup (taken from workgroup_id
// alone), so every read of A is a broadcast. Without TRANS_B each lane owns 4
// adjacent columns, one vec4 of a row of B per k; with TRANS_B it owns 4
// columns 64 apart, each read as a vec4 along k. Rows and columns past the
// edge are clamped (or padded) for loads and dropped at the store.
@compute @workgroup_size(BCAST_WG)
fn matmul_bcast(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  set_bases(wg.z);
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = wg.y * ROWS;
  var acc: array<vec4f, BCAST_MAX_ROWS>;
  if (!TRANS_B) {
    let n0 = (wg.x * BCAST_WG + lid.x) * 4u;
    // The last vec4 of a row may run past N into the row's padding (ldb is a
    // multiple of 4, so it stays in the row); those columns are never stored.
    // Lanes past the edge reload that vec4. No branch on the lane, which would
    // run both sides on a SIMD CPU.
    let n_load = min(n0, ((N + 3u) / 4u - 1u) * 4u);
    for (var k = 0u; k < K; k++) {
      let bk = b_bc[(base_b + k * params.ldb + n_load) / 4u];
      for (var i = 0u; i < ROWS; i++) {
        acc[i] += a_bc_at(min(m0 + i, M - 1u), k) * bk;
      }
    }
    for (var i = 0u; i < ROWS; i++) {
      for (var j = 0u; j < 4u; j++) {
        store_bc(m0 + i, n0 + j, acc[i][j]);
      }
    }
    return;
  }
  let n0 = wg.x * BCAST_WG * 4u + lid.x;
  let cols = vec4u(min(n0, N - 1u), min(n0 + BCAST_WG, N - 1u), min(n0 + 2u * BCAST_WG, N - 1u), min(n0 + 3u * BCAST_WG, N - 1u));
  let k4 = K - K % 4u;
  for (var k = 0u; k < k4; k += 4u) {
    let base = base_b + k;
    let b0 = b_bc[(base + cols.x * params.ldb) / 4u];
    let b1 = b_bc[(base + cols.y * params.ldb) / 4u];
    let b2 = b_bc[(base + cols.z * params.ldb) / 4u];
    let b3 = b_bc[(base + cols.w * params.ldb) / 4u];
    for (var i = 0u; i < ROWS; i++) {
      let m = min(m0 + i, M - 1u);
      let av = vec4f(a_bc_at(m, k), a_bc_at(m, k + 1u), a_bc_at(m, k + 2u), a_bc_at(m, k + 3u));
      acc[i] += vec4f(dot(av, b0), dot(av, b1), dot(av, b2), dot(av, b3));
    }
  }
  for (var k = k4; k < K; k++) {
    let bk = vec4f(b_bc_scalar(k, cols.x), b_bc_scalar(k, cols.y), b_bc_scalar(k, cols.z), b_bc_scalar(k, cols.w));
    for (var i = 0u; i < ROWS; i++) {
      acc[i] += a_bc_at(min(m0 + i, M - 1u), k) * bk;
    }
  }
  for (var i = 0u; i < ROWS; i++) {
    for (var j = 0u; j < 4u; j++) {
      store_bc(m0 + i, n0 + j * BCAST_WG, acc[i][j]);
    }
  }
}

// matmul_tiled
@group(0) @binding(1) var<storage, read_write> c_t: array<f32>; // (M,N), row stride ldc
@group(0) @binding(2) var<storage, read> a_t: array<f32>;       // (M,K) or (K,M)
@group(0) @binding(3) var<storage, read> b_t: array<f32>;       // (K,N) or (N,K)
@group(0) @binding(4) var<storage, read> bias_t: array<f32>;    // (N) read when HAS_BIAS
@group(0) @binding(5) var<storage, read_write> act_t: array<f32>; // (M,N) gelu(C), written when GELU_OUT

const TILED_WG: u32 = 16u;
const TILED_BLOCK: u32 = 64u; // rows and columns of C per workgroup: TILED_WG x TILE
const TILED_K: u32 = 16u;     // depth of the staged panels

var<workgroup> a_panel: array<array<f32, TILED_BLOCK>, TILED_K>; // [k][m]
var<workgroup> b_panel: array<array<f32, TILED_BLOCK>, TILED_K>; // [k][n]

fn a_t_at(m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) {
    return 0.0;
  }
  if (TRANS_A) {
    return a_t[base_a + k * params.lda + m];
  }
  return a_t[base_a + m * params.lda + k];
}

fn b_t_at(k: u32, n: u32) -> f32 {
  if (k >= params.K || n >= params.N) {
    return 0.0;
  }
  if (TRANS_B) {
    return b_t[base_b + n * params.ldb + k];
  }
  return b_t[base_b + k * params.ldb + n];
}

@compute @workgroup_size(TILED_WG, TILED_WG)
fn matmul_tiled(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) flat: u32,
) {
  set_bases(wg.z);
  let bm = wg.y * TILED_BLOCK;
  let bn = wg.x * TILED_BLOCK;
  // Each thread computes rows lid.y + 16i and columns lid.x + 16j, so that
  // neighbouring threads read neighbouring panel entries.
  var acc: array<vec4f, 4>;
  for (var k0 = 0u; k0 < params.K; k0 += TILED_K) {
    // 256 threads stage 16x64 entries of each panel, 4 each; the fastest
    // moving index follows the operand's contiguous dimension.
    for (var r = 0u; r < 4u; r++) {
      let e = flat + r * TILED_WG * TILED_WG;
      if (TRANS_A) {
        a_panel[e / TILED_BLOCK][e % TILED_BLOCK] = a_t_at(bm + e % TILED_BLOCK, k0 + e / TILED_BLOCK);
      } else {
        a_panel[e % TILED_K][e / TILED_K] = a_t_at(bm + e / TILED_K, k0 + e % TILED_K);
      }
      if (TRANS_B) {
        b_panel[e % TILED_K][e / TILED_K] = b_t_at(k0 + e % TILED_K, bn + e / TILED_K);
      } else {
        b_panel[e / TILED_BLOCK][e % TILED_BLOCK] = b_t_at(k0 + e / TILED_BLOCK, bn + e % TILED_BLOCK);
      }
    }
    workgroupBarrier();
    // A bound the compiler cannot see keeps it from unrolling 16 steps of
    // per-lane shared-memory reads, which makes compiling slow on CPU adapters;
    // it also skips the zero padding of the last panel.
    let depth = min(TILED_K, params.K - k0);
    for (var k = 0u; k < depth; k++) {
      let bk = vec4f(b_panel[k][lid.x], b_panel[k][lid.x + 16u], b_panel[k][lid.x + 32u], b_panel[k][lid.x + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += a_panel[k][lid.y + 16u * i] * bk;
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = bm + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = bn + lid.x + 16u * j;
      if (m < params.M && n < params.N) {
        var out = acc[i][j];
        if (HAS_BIAS) {
          out += bias_t[n];
        }
        let idx = base_c + m * params.ldc + n;
        if (ACCUMULATE) {
          out += c_t[idx];
        }
        c_t[idx] = out;
        if (GELU_OUT) {
          act_t[idx] = gelu(out);
        }
      }
    }
  }
}
