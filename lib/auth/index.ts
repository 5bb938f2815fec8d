export * from './token-source.interface';
export * from './token-source-error';
export * from './static-token-source';
export * from './oidc-token-source';
export * from './file-token-source';
