// Re-sending a dead-letter file: replayDeadLetters() and the nestjs-snowplow-replay CLI.
export * from './replay';
export * from './dead-table';
