/**
 * Undo steps for the demo and the benchmark, run newest first and exactly once, whether the
 * script finishes, fails or is interrupted: servers and relays must never outlive the script.
 */
import { constants } from 'node:os';

export type Undo = () => Promise<void>;

export class Teardown {
  private readonly steps: { what: string; undo: Undo }[] = [];
  private started = false;
  private readonly onError: (what: string, error: unknown) => void;

  constructor(onError: (what: string, error: unknown) => void) {
    this.onError = onError;
  }

  /**
   * Registers an undo step; once teardown has begun, runs it at once instead. Returns a function
   * that runs the step early (its errors propagate) and takes it off the stack.
   */
  add(what: string, undo: Undo): Undo {
    const step = { what, undo };
    if (this.started) void this.attempt(step);
    else this.steps.push(step);
    return async () => {
      const index = this.steps.indexOf(step);
      if (index < 0) return;
      this.steps.splice(index, 1);
      await undo();
    };
  }

  /** Runs every step, newest first; a failing step is reported and the rest still run. */
  async run(): Promise<boolean> {
    this.started = true;
    let ok = true;
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      ok = (await this.attempt(step)) && ok;
    }
    return ok;
  }

  private async attempt(step: { what: string; undo: Undo }): Promise<boolean> {
    try {
      await step.undo();
      return true;
    } catch (error) {
      this.onError(step.what, error);
      return false;
    }
  }
}

export class Interrupted extends Error {
  readonly signal: NodeJS.Signals;

  constructor(signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Rejects with Interrupted on the first SIGINT/SIGTERM/SIGHUP. The handlers stay installed, so a
 * later signal cannot kill the script halfway through its teardown; it calls `onRepeat` instead.
 */
export function interruption(onRepeat: (signal: NodeJS.Signals) => void): Promise<never> {
  return new Promise((_, reject) => {
    let first = true;
    for (const signal of SIGNALS) {
      process.on(signal, () => {
        if (first) reject(new Interrupted(signal));
        else onRepeat(signal);
        first = false;
      });
    }
  });
}

/** The exit code a shell reports for a signal: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}
