// Global L2 norm of all gradients and the clip scale of
// torch.nn.utils.clip_grad_norm_: scale = min(1, max_norm / (norm + 1e-6)),
// or 1 when clipping is off (max_norm = 0).
// Two passes and no atomics: gradnorm_partial writes one sum of squares per
// workgroup into its own slot of `partials` (each window of a tensor or of an
// arena span gets a range of slots); gradnorm_finalize adds the slots in
// order. Deterministic.

struct Params {
  n: u32,         // gradnorm_partial: elements in this window; gradnorm_finalize: slots
  first_slot: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

// gradnorm_partial
@group(0) @binding(1) var<storage, read_write> partials: array<f32>; // (slots)
@group(0) @binding(2) var<storage, read> grad: array<f32>;          // (n)

// gradnorm_finalize
@group(0) @binding(1) var<storage, read_write> norm: array<f32>;  // (2) [global norm, clip scale]
@group(0) @binding(2) var<storage, read> partials_f: array<f32>;  // (slots)

// 64, not 256: a CPU rasteriser runs a workgroup's subgroups one after another
// and switches between them at every barrier of the reduction, so fewer lanes
// a workgroup halve this kernel's time on lavapipe.
const WG: u32 = 64u;

var<workgroup> scratch: array<f32, WG>;

// The workgroup's sum, in lane 0 (the others get a partial sum). One barrier
// and a serial sum of 64, not a tree of 7 barriers: each barrier switches
// between a workgroup's subgroups on a CPU rasteriser.
fn reduce_sum(lane: u32, x: f32) -> f32 {
  scratch[lane] = x;
  workgroupBarrier();
  var s = 0.0;
  if (lane == 0u) {
    for (var i = 0u; i < WG; i++) {
      s += scratch[i];
    }
  }
  return s;
}

@compute @workgroup_size(WG)
fn gradnorm_partial(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  var s = 0.0;
  for (var i = gid.x; i < params.n; i += groups.x * WG) {
    let g = grad[i];
    s += g * g;
  }
  store_partial(lid.x, wid.x, s);
}

// The workgroup's sum of its lanes' sums s, into its slot.
fn store_partial(lane: u32, group: u32, s: f32) {
  let total = reduce_sum(lane, s);
  if (lane == 0u) {
    partials[params.first_slot + group] = total;
  }
}

// gradnorm_partial four elements at a time (params.n counts vec4s), for
// windows of a multiple of 4 elements: on lavapipe, which loads a storage
// buffer one lane at a time, a vec4 shares that loop's overhead between four.
@group(0) @binding(2) var<storage, read> grad4: array<vec4f>; // (n)

@compute @workgroup_size(WG)
fn gradnorm_partial_vec4(
  @builtin(global_invocation_id) gid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  var s = 0.0;
  for (var i = gid.x; i < params.n; i += groups.x * WG) {
    let g = grad4[i];
    s += dot(g, g);
  }
  store_partial(lid.x, wid.x, s);
}

@compute @workgroup_size(WG)
fn gradnorm_finalize(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < params.n; i += WG) {
    s += partials_f[i];
  }
  s = reduce_sum(lid.x, s);
  if (lid.x == 0u) {
    let total = sqrt(s);
    norm[0] = total;
    norm[1] = select(1.0, min(1.0, params.max_norm / (total + 1e-6)), params.max_norm > 0.0);
  }
}
