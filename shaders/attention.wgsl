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
