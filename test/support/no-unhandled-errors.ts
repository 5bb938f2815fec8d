// Loaded for every test file (jest setupFilesAfterEnv): an unhandled rejection or uncaught
// exception anywhere fails the test that was running when it happened.
const problems: unknown[] = [];
const onRejection = (reason: unknown) => problems.push(reason);
const onException = (error: unknown) => problems.push(error);

beforeAll(() => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
});

afterEach(() => {
  const found = problems.splice(0);
  if (found.length > 0) {
    throw new Error(`unhandled rejection or uncaught exception during the test: ${found.map(String).join('; ')}`);
  }
});

afterAll(() => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
});
