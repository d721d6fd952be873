/**
 * The findings list (SPEC §11): README's "Findings" table is generated from
 * it, every signature names an invariant of the registry, and each patch fix
 * exists.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KNOWN_FINDINGS, renderFindings } from '../../properties/findings.js';
import { INVARIANT_NAMES } from '../../properties/invariants/index.js';
import { PATCH_NAMES } from '../../src/kernel/patches.js';

describe('known findings', () => {
  it('README carries the table generated from the list', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- findings:begin -->\n([\s\S]*?)<!-- findings:end -->/.exec(readme);
    expect(m?.[1]).toBe(`${renderFindings()}\n`);
  });

  it('every signature is invariant@function of a registered invariant; every patch fix is a series', () => {
    for (const f of KNOWN_FINDINGS) {
      for (const s of f.signatures) expect(INVARIANT_NAMES, s).toContain(s.split('@')[0]);
      if ('patch' in f.fix) expect(PATCH_NAMES).toContain(f.fix.patch);
    }
    expect(new Set(KNOWN_FINDINGS.map((f) => f.id)).size).toBe(KNOWN_FINDINGS.length);
  });
});
