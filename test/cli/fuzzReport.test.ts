import { DOMParser } from '@xmldom/xmldom';
import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import type { CampaignResult, FailureReport } from '../../properties/campaign.js';
import { Coverage } from '../../properties/coverage.js';
import { junitXml } from '../../src/cli/fuzz/junit.js';
import { fuzzConfig } from '../../src/cli/fuzz/options.js';
import { MAX_LISTED, fuzzDocument, renderHuman } from '../../src/cli/fuzz/report.js';

describe('memhp fuzz reports', () => {
  const failure = (i: number, message: string): FailureReport => ({
    campaignSeed: 1,
    seed: 100 + i,
    run: i,
    invariant: 'node-respected',
    message,
    variant: 'kmem-accepts-invalid-node',
    length: 2,
    originalLength: 9,
    shrinkMs: 5,
    file: `out/f${i}.jsonl`,
    log: `// memhp fuzz failure ${i}\n{"type":"boot"}\n`,
  });
  const result = (failures: FailureReport[]): CampaignResult => ({
    runs: 30,
    steps: 300,
    okSteps: 150,
    validSteps: 270,
    elapsedMs: 1000,
    failures,
    replayed: [],
    known: [],
    coverage: new Coverage().report(['a goal']),
    seed: 1,
  });
  const cfg = fuzzConfig({ runs: 30, out: 'out' });

  it('the human summary lists the first failures and counts the rest', () => {
    const text = renderHuman(fuzzDocument(cfg, result(Array.from({ length: MAX_LISTED + 5 }, (_, i) => failure(i, `bad ${i}`))), false), pc.createColors(false));
    expect(text).toContain(`  ${MAX_LISTED}. node-respected: bad ${MAX_LISTED - 1}\n`);
    expect(text).not.toContain(`bad ${MAX_LISTED}\n`);
    expect(text).toContain('  ... and 5 more (every one is saved under out; --json lists them all)\n');
    expect(text).toContain('valid 270 (90.0%), succeeded 150 (50.0%)');
    expect(text.endsWith(`FAILED: ${MAX_LISTED + 5} failures\n`)).toBe(true);
  });

  it('JUnit XML escapes markup, quotes and characters XML cannot carry', () => {
    const nasty = 'a <b> & "c" \'d\' ]]> \u0001 \ud800 end\nsecond line';
    const xml = junitXml(fuzzDocument(cfg, result([failure(0, nasty)]), false), [`{"value":"${nasty}"}`], new Date(0));
    const errors: string[] = [];
    const parsed = new DOMParser({ onError: (level, msg) => void (level === 'warning' || errors.push(`${level}: ${msg}`)) }).parseFromString(xml, 'text/xml');
    expect(errors).toEqual([]);
    const f = parsed.getElementsByTagName('failure')[0];
    expect(f?.getAttribute('message')).toBe(nasty.replace('\u0001', '\ufffd').replace('\ud800', '\ufffd'));
    expect(f?.textContent).toContain('a <b> & "c"');
    expect(parsed.getElementsByTagName('testsuite')[0]?.getAttribute('timestamp')).toBe('1970-01-01T00:00:00');
  });
});
