/**
 * Each event as the shell command it stands for (SPEC §3, §4 replay output),
 * so a replay or a shrunk fuzz failure reads like the session that caused it.
 * Write commands are exact: pasted into bash they perform the same write(2).
 */
import { sizeString } from '../util/u64.js';
import type { LogEvent } from './events.js';
import { programCall } from './programShell.js';

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

function ansiC(s: string): string {
  let out = "$'";
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\\' || ch === "'") out += `\\${ch}`;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

/**
 * Quote for bash: bare when harmless, single quotes otherwise, $'...' when the
 * text holds control characters (a newline would otherwise split the line).
 * @example shellQuote("dax0.0") // "dax0.0"; shellQuote("a b") // "'a b'"
 */
export function shellQuote(s: string): string {
  if (s === '') return "''";
  if (PLAIN.test(s)) return s;
  if (CONTROL.test(s)) return ansiC(s);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** echo takes a leading "-n"/"-e" as options and dash's echo expands backslashes; printf does neither. */
function echoSafe(value: string): boolean {
  return !value.startsWith('-') && !value.includes('\\');
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The shell command an event stands for.
 * @example shellCommand({ type: 'write', path: '/sys/devices/system/memory/memory17/state', value: 'online_movable', raw: false })
 *   // "echo online_movable > /sys/devices/system/memory/memory17/state"
 */
export function shellCommand(e: LogEvent): string {
  switch (e.type) {
    case 'write': {
      const path = shellQuote(e.path);
      if (e.raw) return e.value === '' ? `printf '' > ${path}` : `printf %s ${shellQuote(e.value)} > ${path}`;
      if (echoSafe(e.value)) return `echo ${shellQuote(e.value)} > ${path}`;
      return `printf '%s\\n' ${shellQuote(e.value)} > ${path}`;
    }
    case 'read':
      return `cat ${shellQuote(e.path)}`;
    case 'inject':
      return `# inject ${e.site} ${e.errno} (nth ${e.nth})`;
    case 'reboot':
      return 'reboot';
    case 'boot': {
      const parts = [
        plural(e.ram.length, 'RAM range', 'RAM ranges'),
        `block ${sizeString(e.memoryBlockSize)}`,
        plural(e.daxRegions.length, 'dax region', 'dax regions'),
      ];
      if (e.variant !== null) parts.push(`variant ${e.variant}`);
      return `# boot ${e.kernel}: ${parts.join(', ')}`;
    }
    default:
      return programCall(e);
  }
}
