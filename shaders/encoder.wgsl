// Token + position embedding: out[b,t,:] = wte[inp[b,t],:] + wpe[t,:].
// The token table may be larger than one storage binding, so every entry
// point that touches it sees only a window of vocabulary rows
// [vocab_first, vocab_first + vocab_count) and is dispatched once per window.
// Parameter gradients accumulate (dwte +=, dwpe +=).
//
// The backward pass needs no atomics: encoder_backward_links finds, for each
// position, the next position holding the same token and whether it is the
// first one; the first occurrence then walks that chain and adds the sum once.
// Sums run in position order, so results are deterministic.

struct Params {
  n: u32,           // B*T positions
  T: u32,
  C: u32,
  vocab_first: u32, // first wte row of the bound window
  vocab_count: u32, // rows in the window
}

@group(0) @binding(0) var<uniform> params: Params;

// encoder_forward
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (B,T,C)
@group(0) @binding(2) var<storage, read> inp: array<i32>;       // (B,T) token ids
@group(0) @binding(3) var<storage, read> wte: array<f32>;       // (vocab_count,C) window of (V,C)
@group(0) @binding(4) var<storage, read> wpe: array<f32>;       // (maxT,C)

// encoder_backward_links
@group(0) @binding(1) var<storage, read_write> links: array<i32>; // (2,B*T): next same-token position or -1; 1 if first occurrence
@group(0) @binding(2) var<storage, read> tokens: array<i32>;      // (B,T)

// encoder_backward_wte
@group(0) @binding(1) var<storage, read_write> dwte: array<f32>; // (vocab_count,C) window of (V,C)
@group(0) @binding(2) var<storage, read> dout: array<f32>;       // (B,T,C)
@group(0) @binding(3) var<storage, read> tok_b: array<i32>;      // (B,T)
@group(0) @binding(4) var<storage, read> links_b: array<i32>;    // (2,B*T) from encoder_backward_links

// encoder_backward_wpe
@group(0) @binding(1) var<storage, read_write> dwpe: array<f32>; // (maxT,C)
@group(0) @binding(2) var<storage, read> dout_p: array<f32>;     // (B,T,C)

const WG: u32 = 256u;

fn in_window(token: i32) -> bool {
  let row = u32(token) - params.vocab_first; // wraps for token < vocab_first
  return token >= 0 && row < params.vocab_count;
}

@compute @workgroup_size(WG)
fn encoder_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  for (var i = gid.x; i < params.n * C; i += groups.x * WG) {
    let pos = i / C;
    let c = i % C;
    let token = inp[pos];
    if (in_window(token)) {
      let t = pos % params.T;
      out[i] = wte[(u32(token) - params.vocab_first) * C + c] + wpe[t * C + c];
    }
  }
}

@compute @workgroup_size(WG)
fn encoder_backward_links(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let n = params.n;
  for (var i = gid.x; i < n; i += groups.x * WG) {
    let token = tokens[i];
    var first = 1;
    for (var j = 0u; j < i; j++) {
      if (tokens[j] == token) {
        first = 0;
        break;
      }
    }
    var next = -1;
    for (var j = i + 1u; j < n; j++) {
      if (tokens[j] == token) {
        next = i32(j);
        break;
      }
    }
    links[i] = next;
    links[n + i] = first;
  }
}

@compute @workgroup_size(WG)
fn encoder_backward_wte(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let n = params.n;
  for (var i = gid.x; i < n * C; i += groups.x * WG) {
    let pos = i / C;
    let c = i % C;
    let token = tok_b[pos];
    if (links_b[n + pos] == 1 && in_window(token)) {
      var sum = 0.0;
      var j = i32(pos);
      loop {
        sum += dout[u32(j) * C + c];
        j = links_b[u32(j)];
        if (j < 0) {
          break;
        }
      }
      let row = u32(token) - params.vocab_first;
      dwte[row * C + c] += sum;
    }
  }
}

@compute @workgroup_size(WG)
fn encoder_backward_wpe(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let C = params.C;
  let T = params.T;
  let B = params.n / T;
  for (var i = gid.x; i < T * C; i += groups.x * WG) {
    var sum = 0.0;
    for (var b = 0u; b < B; b++) {
      sum += dout_p[b * T * C + i];
    }
    dwpe[i] += sum;
  }
}
