// crossentropy_backward (see crossentropy.wgsl for what it computes) for CPU
// rasterisers, in its own file because it needs the `subgroups` feature.
//
// Why: crossentropy.wgsl reduces a row across a workgroup of 64 with a tree
// of barriers, and lavapipe runs a workgroup's 8 subgroups one after another,
// switching between them at every barrier: 14 switches a row. Here a
// workgroup is one subgroup (WG = the device's subgroup size) and the row's
// max and sum are subgroupMax and subgroupAdd, with no barrier at all.

enable subgroups;

struct Params {
  R: u32, // rows (positions)
  V: u32, // vocabulary (row length)
  out_index: u32, // unused here (loss_sum's)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>; // (R,V) holds the logits on entry
@group(0) @binding(2) var<storage, read_write> losses: array<f32>;  // (R)
@group(0) @binding(3) var<storage, read> targets: array<i32>;       // (R)
@group(0) @binding(4) var<storage, read> weights: array<f32>;       // (R)

// Lanes per workgroup: the device's (smallest) subgroup size, so that the
// workgroup is a single subgroup.
override WG: u32 = 8u;

@compute @workgroup_size(WG)
fn crossentropy_backward_subgroup(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let V = params.V;
  let lane = lid.x;
  for (var r = wid.x; r < params.R; r += groups.x) {
    let base = r * V;
    let w = weights[r];
    let tgt = u32(clamp(targets[r], 0, i32(V) - 1));
    // The target's logit is taken from this first pass, by the lane that
    // reads it, so that no lane reads it after another has overwritten it.
    var m = -3.4e38;
    var target_part = 0.0;
    for (var v = lane; v < V; v += WG) {
      let x = dlogits[base + v];
      m = max(m, x);
      target_part += select(0.0, x, v == tgt);
    }
    m = subgroupMax(m);
    let target_logit = subgroupAdd(target_part);
    var s = 0.0;
    for (var v = lane; v < V; v += WG) {
      s += exp(dlogits[base + v] - m);
    }
    s = subgroupAdd(s);
    if (lane == 0u) {
      losses[r] = select(0.0, w * (log(s) + m - target_logit), w != 0.0);
    }
    let inv = 1.0 / s;
    for (var v = lane; v < V; v += WG) {
      let p = exp(dlogits[base + v] - m) * inv;
      dlogits[base + v] = w * (p - select(0.0, 1.0, v == tgt));
    }
  }
}
