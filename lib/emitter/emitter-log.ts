import { EmitterLogger } from './send-result';

const consoleLogger: EmitterLogger = {
  log: (message) => console.log(`[nestjs-snowplow] ${message}`),
  warn: (message) => console.warn(`[nestjs-snowplow] ${message}`),
  error: (message) => console.error(`[nestjs-snowplow] ${message}`),
};

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The emitter's log: a throwing logger is ignored, and problems that repeat while the collector
 * keeps failing are told once per run of failures (`hint`) or at most once per interval (`every`).
 */
export class EmitterLog {
  private readonly logger: EmitterLogger;
  private readonly hinted = new Set<string>();
  private readonly lastAt = new Map<string, { at: number; suppressed: number }>();

  constructor(logger: EmitterLogger | undefined) {
    this.logger = logger ?? consoleLogger;
  }

  info(message: string): void {
    this.write(this.logger.log ? 'log' : 'warn', message);
  }

  warn(message: string): void {
    this.write('warn', message);
  }

  error(message: string): void {
    this.write('error', message);
  }

  /** Logs `message` the first time `key` comes up since the last successful request. */
  hint(key: string, level: 'warn' | 'error', message: () => string): void {
    if (this.hinted.has(key)) return;
    this.hinted.add(key);
    this.write(level, message());
  }

  /** Logs at most once per `intervalMs` for `key`, saying how many were held back meanwhile. */
  every(key: string, intervalMs: number, level: 'warn' | 'error', message: () => string): void {
    const now = Date.now();
    const last = this.lastAt.get(key);
    if (last && now - last.at < intervalMs) {
      last.suppressed++;
      return;
    }
    const more = last?.suppressed ? ` (${last.suppressed} more since the last report)` : '';
    this.lastAt.set(key, { at: now, suppressed: 0 });
    this.write(level, `${message()}${more}`);
  }

  /** A request succeeded: the next run of failures is told again. */
  recovered(): void {
    this.hinted.clear();
  }

  private write(level: 'log' | 'warn' | 'error', message: string): void {
    try {
      (this.logger[level] ?? this.logger.warn).call(this.logger, message);
    } catch {
      // Nothing left to report it to.
    }
  }
}
