// Exit 0 when Dawn finds a WebGPU adapter on this machine, 1 otherwise.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter();
if (adapter) console.log(`WebGPU adapter: ${adapter.info.description || adapter.info.vendor || 'unnamed'}`);
process.exit(adapter ? 0 : 1);
