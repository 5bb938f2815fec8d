export * from './token-source.interface';
export * from './static-token-source';
