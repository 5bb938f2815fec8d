// One place for every rule a caller's input is checked against: events (event-rules) and
// configuration (option-rules), and the tracker protocol's (protocol-rules).
export * from './event-rules';
export * from './option-rules';
export * from './protocol-rules';
