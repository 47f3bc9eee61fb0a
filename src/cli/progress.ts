/**
 * Progress of long work: a bar with loss, tokens/s and ETA on a terminal, one
 * plain line per logged step when output goes to a file or a pipe.
 */
import cliProgress from 'cli-progress';

export interface ProgressValues {
  loss?: number;
  tokensPerSecond?: number;
}

export class Progress {
  private readonly bar: cliProgress.SingleBar | null;
  private readonly started = performance.now();
  private step: number;
  private payload = { loss: '-', tps: '-' as string | number };

  constructor(
    private readonly label: string,
    private readonly total: number,
    start = 0,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.step = start;
    this.bar = stream.isTTY
      ? new cliProgress.SingleBar(
          {
            format: `${label} [{bar}] {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_formatted}`,
            stream,
            hideCursor: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(total, start, this.payload);
  }

  /** Every step: moves the bar. */
  update(step: number, v: ProgressValues): void {
    this.step = step;
    this.payload = { loss: v.loss?.toFixed(4) ?? '-', tps: v.tokensPerSecond ? Math.round(v.tokensPerSecond) : '-' };
    this.bar?.update(step, this.payload);
  }

  /** Logged steps: a plain line when there is no bar. */
  log(step: number, fields: Record<string, number>): void {
    if (this.bar) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const parts = Object.entries(fields).map(([k, v]) => `${k} ${formatNumber(v)}`);
    this.stream.write(`${this.label} step ${step}/${this.total} ${parts.join(' ')} (${elapsed.toFixed(1)} s)\n`);
  }

  /** A message that must not be overwritten by the bar. */
  note(message: string): void {
    if (this.bar) {
      this.bar.stop();
      this.stream.write(`${message}\n`);
      this.bar.start(this.total, this.step, this.payload);
    } else {
      this.stream.write(`${message}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : Math.abs(v) >= 1e-3 ? v.toFixed(4) : v.toExponential(2);
}
