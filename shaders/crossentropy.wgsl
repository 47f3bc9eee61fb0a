// Fused softmax + cross-entropy with a loss weight per position.
//   losses[r] = weights[r] * -log softmax(logits[r])[targets[r]]
//   dlogits[r,:] = weights[r] * (softmax(logits[r]) - onehot(targets[r]))
// A weight of 0 masks a position (its target is not read; SFT masks prompts
// this way). Callers put 1/(number of counted positions) into the weights, so
// that sum(losses) is the mean loss and dlogits its gradient.
// crossentropy_backward writes dlogits over the logits in place (the logits
// are not needed afterwards) and the per-position losses too, so a training
// step reads the (R,V) matrix once for both. Activation gradients assign.
// One workgroup per row: V is wide (50257 for GPT-2), rows are few.

struct Params {
  R: u32, // rows (positions)
  V: u32, // vocabulary (row length)
  out_index: u32, // loss_sum: where the total goes in `total`
}

@group(0) @binding(0) var<uniform> params: Params;

// crossentropy_forward
@group(0) @binding(1) var<storage, read_write> losses: array<f32>; // (R)
@group(0) @binding(2) var<storage, read> logits: array<f32>;       // (R,V)
@group(0) @binding(3) var<storage, read> targets: array<i32>;      // (R)
@group(0) @binding(4) var<storage, read> weights: array<f32>;      // (R)

// crossentropy_backward
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>;  // (R,V) holds the logits on entry
@group(0) @binding(2) var<storage, read_write> losses_b: array<f32>; // (R)
@group(0) @binding(3) var<storage, read> targets_b: array<i32>;      // (R)
@group(0) @binding(4) var<storage, read> weights_b: array<f32>;      // (R)

// loss_sum: total[out_index] = sum(values), in a fixed order
@group(0) @binding(1) var<storage, read_write> total: array<f32>; // (any)
@group(0) @binding(2) var<storage, read> values: array<f32>;      // (R)

const WG: u32 = 64u;

var<workgroup> scratch: array<f32, WG>;

// Tree reduction across the workgroup; every lane gets the result.
fn reduce_max(lane: u32, x: f32) -> f32 {
  scratch[lane] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      scratch[lane] = max(scratch[lane], scratch[lane + stride]);
    }
    workgroupBarrier();
  }
  let result = scratch[0];
  workgroupBarrier();
  return result;
}

fn reduce_sum(lane: u32, x: f32) -> f32 {
  scratch[lane] = x;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      scratch[lane] += scratch[lane + stride];
    }
    workgroupBarrier();
  }
  let result = scratch[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(WG)
fn crossentropy_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let V = params.V;
  let lane = lid.x;
  for (var r = wid.x; r < params.R; r += groups.x) {
    let base = r * V;
    var m = -3.4e38;
    for (var v = lane; v < V; v += WG) {
      m = max(m, logits[base + v]);
    }
    m = reduce_max(lane, m);
    var s = 0.0;
    for (var v = lane; v < V; v += WG) {
      s += exp(logits[base + v] - m);
    }
    s = reduce_sum(lane, s);
    if (lane == 0u) {
      let w = weights[r];
      var loss = 0.0;
      if (w != 0.0) {
        let tgt = u32(clamp(targets[r], 0, i32(V) - 1));
        loss = w * (log(s) + m - logits[base + tgt]);
      }
      losses[r] = loss;
    }
  }
}

@compute @workgroup_size(WG)
fn crossentropy_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let V = params.V;
  let lane = lid.x;
  for (var r = wid.x; r < params.R; r += groups.x) {
    let base = r * V;
    let w = weights_b[r];
    let tgt = u32(clamp(targets_b[r], 0, i32(V) - 1));
    var m = -3.4e38;
    for (var v = lane; v < V; v += WG) {
      m = max(m, dlogits[base + v]);
    }
    m = reduce_max(lane, m);
    var s = 0.0;
    for (var v = lane; v < V; v += WG) {
      s += exp(dlogits[base + v] - m);
    }
    s = reduce_sum(lane, s);
    // Every lane has read the target's logit (via s) before any lane overwrites it
    // below; lane 0 reads it again here, so it must come before the barrier.
    let target_logit = dlogits[base + tgt];
    workgroupBarrier();
    if (lane == 0u) {
      losses_b[r] = select(0.0, w * (log(s) + m - target_logit), w != 0.0);
    }
    let inv = 1.0 / s;
    for (var v = lane; v < V; v += WG) {
      let p = exp(dlogits[base + v] - m) * inv;
      dlogits[base + v] = w * (p - select(0.0, 1.0, v == tgt));
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn loss_sum(@builtin(local_invocation_id) lid: vec3u) {
  let lane = lid.x;
  var s = 0.0;
  for (var i = lane; i < params.R; i += WG) {
    s += values[i];
  }
  s = reduce_sum(lane, s);
  if (lane == 0u) {
    total[params.out_index] = s;
  }
}
