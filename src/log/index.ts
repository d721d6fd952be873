/** The event log (SPEC §3): types, reader, writer, shell rendering. */
export type * from './events.js';
export { INJECT_SITES } from './events.js';
export { LogError, formatPath } from './errors.js';
export { decodeLogBytes, LogParser, parseLogText, readLog, readLogBatches } from './reader.js';
export { readLines } from './lines.js';
export { parseEvent } from './parse.js';
export { checkBoot } from './bootCheck.js';
export { descForName, defaultRegionName } from './boot.js';
export { eventToJson, outcomeToJson, writeEvent, writeLog, type Json } from './writer.js';
export { shellCommand, shellQuote } from './shell.js';
