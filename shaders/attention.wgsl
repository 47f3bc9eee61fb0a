// Causal multi-head self-attention on the fused QKV activation, around matmuls.
// qkv holds, per position, [q (C) | k (C) | v (C)]; head h owns channels
// h*HS .. (h+1)*HS of each (the Hugging Face c_attn split).
//   att[b,h,t,t2] = softmax_{t2<=t}(q_t . k_t2 / sqrt(HS)), 0 for t2 > t
//   out[b,t,h*HS+i] = sum_t2 att[b,h,t,t2] v_t2[i]
// The products (q k^T, att v and their gradients) are batched gemms, one per
// (b, h), in src/kernels/attention.ts: on lavapipe the matmul kernels run ten
// times faster than a thread per query row reading k and v itself. They
// compute the whole T x T square; the softmax zeroes the masked half, so the
// products after it add exact zeros. What remains here are the row-wise steps:
// - attention_softmax: scores (q k^T, unscaled) to probabilities, in place;
// - attention_softmax_backward: datt (dout v^T) to the scaled pre-softmax
//   gradient, in place.
// The forward pass saves att (probabilities) for the backward pass.
// Each comes in two shapes (src/kernels/attention.ts picks by adapter):
// - attention_softmax, attention_softmax_backward: one invocation per row, no
//   barriers: what a CPU rasteriser (lavapipe, SwiftShader) runs fastest.
// - attention_softmax_rows, attention_softmax_backward_rows: for GPUs, a team
//   of TEAM lanes per row, ROWS rows a workgroup, neighbouring lanes reading
//   neighbouring entries so that a warp's loads coalesce (one invocation per
//   row reads addresses a row apart). The row's max and sums meet in
//   workgroup memory, in a tree of fixed order, so results repeat bit for bit;
//   no subgroup operations, which SwiftShader may lack.
// Both write every entry, the masked ones (t2 > t) an exact 0; the rows
// variants also read only the unmasked ones.

struct Params {
  rows: u32,   // B * NH * T
  T: u32,
  scale: f32,  // 1 / sqrt(HS)
}

@group(0) @binding(0) var<uniform> params: Params;

// attention_softmax
@group(0) @binding(1) var<storage, read_write> att: array<f32>; // (B,NH,T,T) scores in, probabilities out

// attention_softmax_backward
@group(0) @binding(1) var<storage, read_write> dpre: array<f32>; // (B,NH,T,T) datt in, dpreatt * scale out
@group(0) @binding(2) var<storage, read> att_b: array<f32>;      // (B,NH,T,T)

const WG: u32 = 64u;

// One thread per row (b, h, t) of the (B,NH,T,T) square.
@compute @workgroup_size(WG)
fn attention_softmax(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  for (var r = gid.x; r < params.rows; r += groups.x * WG) {
    let t = r % T;
    let row = r * T;
    var maxv = -3.4e38;
    for (var t2 = 0u; t2 <= t; t2++) {
      maxv = max(maxv, att[row + t2] * params.scale);
    }
    var sum = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) {
      let e = exp(att[row + t2] * params.scale - maxv);
      att[row + t2] = e;
      sum += e;
    }
    let inv = 1.0 / sum;
    for (var t2 = 0u; t2 < T; t2++) {
      att[row + t2] = select(0.0, att[row + t2] * inv, t2 <= t);
    }
  }
}

// d(pre-softmax)[t2] = att[t2] (datt[t2] - sum_t2' att[t2'] datt[t2']), times
// the scale so that dq = dpre k and dk = dpre^T q need no pass of their own.
@compute @workgroup_size(WG)
fn attention_softmax_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  for (var r = gid.x; r < params.rows; r += groups.x * WG) {
    let t = r % T;
    let row = r * T;
    var dot_sum = 0.0;
    for (var t2 = 0u; t2 <= t; t2++) {
      dot_sum += att_b[row + t2] * dpre[row + t2];
    }
    for (var t2 = 0u; t2 < T; t2++) {
      dpre[row + t2] = select(0.0, att_b[row + t2] * (dpre[row + t2] - dot_sum) * params.scale, t2 <= t);
    }
  }
}

// ---- GPU variants ----

// A team per row: 32 lanes is a warp on NVIDIA, so each warp load is 128
// contiguous bytes of one row; GPT-2's T=256 gives a lane 8 entries a row.
// Eight rows a workgroup make 256 invocations, enough to hide latency, and the
// rows t..t+7 of one head have nearly the same length, so teams seldom wait
// for each other at the barriers.
const TEAM: u32 = 32u; // a power of two: the tree below halves it
const ROWS: u32 = 8u;  // rows per workgroup; mirrored in src/kernels/attention.ts
const LANES: u32 = TEAM * ROWS;
// Low enough to lose every comparison, finite so that the differences taken
// against it in the combines below never make inf - inf.
const NO_MAX: f32 = -3.4e38;

var<workgroup> team_ms: array<vec2f, LANES>; // per lane: (running max, sum of exp(x - max))
var<workgroup> team_sums: array<f32, LANES>;

// Two partial softmax sums, each relative to its own max, as one relative to
// the larger (online softmax); a lane that saw nothing holds (NO_MAX, 0).
fn combine_ms(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// The team's combined (max, sum), in every lane of the team. Called in
// uniform control flow only (it holds barriers).
fn team_reduce_ms(lane: u32, team: u32, v: vec2f) -> vec2f {
  let i = team * TEAM + lane;
  team_ms[i] = v;
  workgroupBarrier();
  for (var stride = TEAM / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      team_ms[i] = combine_ms(team_ms[i], team_ms[i + stride]);
    }
    workgroupBarrier();
  }
  let total = team_ms[team * TEAM];
  // Before the next row overwrites it.
  workgroupBarrier();
  return total;
}

fn team_sum(lane: u32, team: u32, v: f32) -> f32 {
  let i = team * TEAM + lane;
  team_sums[i] = v;
  workgroupBarrier();
  for (var stride = TEAM / 2u; stride > 0u; stride >>= 1u) {
    if (lane < stride) {
      team_sums[i] += team_sums[i + stride];
    }
    workgroupBarrier();
  }
  let total = team_sums[team * TEAM];
  workgroupBarrier();
  return total;
}

// One pass over the unmasked entries finds the max and the sum together
// (online softmax: the sum is rescaled when the max grows), the second writes
// the row. Both read the same t+1 entries; the second finds them in cache.
// Blocks of ROWS rows are the workgroups' (uniform), so the barriers stay in
// uniform control flow; a team past the last row still takes part in them.
@compute @workgroup_size(LANES)
fn attention_softmax_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  let lane = lid.x % TEAM;
  let team = lid.x / TEAM;
  for (var first = wg.x * ROWS; first < params.rows; first += groups.x * ROWS) {
    let r = first + team;
    let live = r < params.rows;
    let t = r % T;
    let n = select(0u, t + 1u, live); // unmasked entries: t2 <= t
    let row = r * T;
    var ms = vec2f(NO_MAX, 0.0);
    for (var t2 = lane; t2 < n; t2 += TEAM) {
      let x = att[row + t2] * params.scale;
      // One exp an entry: rescale the sum only when the max grows.
      if (x > ms.x) {
        ms = vec2f(x, ms.y * exp(ms.x - x) + 1.0);
      } else {
        ms.y += exp(x - ms.x);
      }
    }
    let total = team_reduce_ms(lane, team, ms);
    let inv = 1.0 / total.y;
    if (live) {
      for (var t2 = lane; t2 < T; t2 += TEAM) {
        var p = 0.0;
        if (t2 <= t) {
          p = exp(att[row + t2] * params.scale - total.x) * inv;
        }
        att[row + t2] = p;
      }
    }
  }
}

@compute @workgroup_size(LANES)
fn attention_softmax_backward_rows(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let T = params.T;
  let lane = lid.x % TEAM;
  let team = lid.x / TEAM;
  for (var first = wg.x * ROWS; first < params.rows; first += groups.x * ROWS) {
    let r = first + team;
    let live = r < params.rows;
    let t = r % T;
    let n = select(0u, t + 1u, live);
    let row = r * T;
    var dot = 0.0;
    for (var t2 = lane; t2 < n; t2 += TEAM) {
      dot += att_b[row + t2] * dpre[row + t2];
    }
    let dot_sum = team_sum(lane, team, dot);
    if (live) {
      for (var t2 = lane; t2 < T; t2 += TEAM) {
        var d = 0.0;
        if (t2 <= t) {
          d = att_b[row + t2] * (dpre[row + t2] - dot_sum) * params.scale;
        }
        dpre[row + t2] = d;
      }
    }
  }
}
