/** `npm run bench`: the bench's command-line entry (see index.ts). */
import { runBench } from './index.ts';

await runBench(process.argv.slice(2));
