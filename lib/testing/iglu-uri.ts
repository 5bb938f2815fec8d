/** The parts of an Iglu schema URI `iglu:VENDOR/NAME/FORMAT/MODEL-REVISION-ADDITION`. */
export interface IgluSchemaKey {
  vendor: string;
  name: string;
  format: string;
  version: string;
}

const IGLU_URI = /^iglu:([a-zA-Z0-9\-_.]+)\/([a-zA-Z0-9\-_]+)\/([a-zA-Z0-9\-_]+)\/([0-9]+-[0-9]+-[0-9]+)$/;

/** Splits an Iglu URI into its parts; `undefined` when the text is not one. */
export function parseIgluUri(uri: string): IgluSchemaKey | undefined {
  const match = IGLU_URI.exec(uri);
  if (!match) return undefined;
  const [, vendor, name, format, version] = match;
  return { vendor, name, format, version };
}

/** Builds `iglu:VENDOR/NAME/FORMAT/VERSION`. */
export function formatIgluUri(key: IgluSchemaKey): string {
  return `iglu:${key.vendor}/${key.name}/${key.format}/${key.version}`;
}

/** True when `uri` names `vendor/name` in any format and version. */
export function isIgluSchemaOf(uri: string, vendor: string, name: string): boolean {
  const key = parseIgluUri(uri);
  return key !== undefined && key.vendor === vendor && key.name === name;
}
