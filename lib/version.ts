/** Library version; a test keeps it equal to package.json's. */
export const LIBRARY_VERSION = '0.1.0';

/** The `tv` field of every event. */
export const TRACKER_VERSION = `nestjs-snowplow-${LIBRARY_VERSION}`;
