// One place for every rule a caller's input is checked against: events (event-rules) and
// configuration (option-rules).
export * from './event-rules';
export * from './option-rules';
