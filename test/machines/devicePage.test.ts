import { readFileSync, readdirSync } from 'node:fs';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type SnapshotFrom } from 'xstate';
import {
  DEVICE_PAGE_EVENT_TYPES,
  devicePageMachine,
  devicePageTable,
  leafStates,
  stepDevicePage,
  type DevicePageEvent,
  type DevicePageMachineState,
  type DevicePageState,
} from '../../machines/index.js';
import { checkAll } from '../../properties/sequence.js';
import { makeChecker } from '../../properties/invariants/index.js';
import { parseLogText } from '../../src/log/index.js';
import { replay } from '../../src/replay/engine.js';

type EventType = DevicePageEvent['type'];

const page = (state: DevicePageState, mapcount = 0, removing = false): DevicePageMachineState => ({ state, mapcount, removing });

/** Step `events` from `from`; undefined as soon as one is refused. */
function run(from: DevicePageMachineState, ...events: EventType[]): DevicePageMachineState | undefined {
  let s: DevicePageMachineState | undefined = from;
  for (const e of events) s = s === undefined ? undefined : stepDevicePage(s, e);
  return s;
}

describe('device page machine (machines/devicePage.machine.ts)', () => {
  it('has the four leaf states, gone final', () => {
    expect(leafStates(devicePageMachine).map((l) => l.name)).toEqual(['free', 'allocated', 'mapped', 'gone']);
    expect(devicePageMachine.getStateNodeById('devicePage.gone').type).toBe('final');
  });

  it('derives exactly these 21 transitions (context:source:event->target)', () => {
    const got = devicePageTable
      .entries()
      .map((e) => `${e.contextKey}:${e.source}:${e.event}->${e.entry.target}`)
      .sort();
    expect(got).toEqual(
      [
        'unmapped:free:devpage.allocated->allocated',
        'unmapped:free:chunk.removing->gone',
        'unmapped:allocated:devpage.mapped->mapped',
        'unmapped:allocated:devpage.freed->free',
        'unmapped:allocated:chunk.removing->allocated',
        'unmapped-removing:allocated:devpage.mapped->mapped',
        'unmapped-removing:allocated:devpage.freed->gone',
        'sole:mapped:devpage.mapped->mapped',
        'sole:mapped:devpage.unmapped->free',
        'sole:mapped:devpage.isolated->allocated',
        'sole:mapped:chunk.removing->mapped',
        'sole-removing:mapped:devpage.mapped->mapped',
        'sole-removing:mapped:devpage.unmapped->gone',
        'sole-removing:mapped:devpage.isolated->allocated',
        'shared:mapped:devpage.mapped->mapped',
        'shared:mapped:devpage.unmapped->mapped',
        'shared:mapped:devpage.isolated->allocated',
        'shared:mapped:chunk.removing->mapped',
        'shared-removing:mapped:devpage.mapped->mapped',
        'shared-removing:mapped:devpage.unmapped->mapped',
        'shared-removing:mapped:devpage.isolated->allocated',
      ].sort(),
    );
  });

  it('takes every transition with its context update', () => {
    // dmirror_devmem_alloc_page
    expect(stepDevicePage(page('free'), 'devpage.allocated')).toEqual(page('allocated'));
    // migrate_vma_insert_page / remove_migration_pte, then copy_nonpresent_pte at fork
    expect(stepDevicePage(page('allocated'), 'devpage.mapped')).toEqual(page('mapped', 1));
    expect(stepDevicePage(page('mapped', 1), 'devpage.mapped')).toEqual(page('mapped', 2));
    expect(stepDevicePage(page('mapped', 2, true), 'devpage.mapped')).toEqual(page('mapped', 3, true));
    expect(stepDevicePage(page('allocated', 0, true), 'devpage.mapped')).toEqual(page('mapped', 1, true));
    // zap_pte_range: the page stays while another entry maps it; the last one frees it (gone when its chunk goes)
    expect(stepDevicePage(page('mapped', 3), 'devpage.unmapped')).toEqual(page('mapped', 2));
    expect(stepDevicePage(page('mapped', 2, true), 'devpage.unmapped')).toEqual(page('mapped', 1, true));
    expect(stepDevicePage(page('mapped', 1), 'devpage.unmapped')).toEqual(page('free'));
    expect(stepDevicePage(page('mapped', 1, true), 'devpage.unmapped')).toEqual(page('gone', 0, true));
    // a migration's collect / try_to_migrate: every entry goes at once and the page stays held
    expect(stepDevicePage(page('mapped', 5), 'devpage.isolated')).toEqual(page('allocated'));
    expect(stepDevicePage(page('mapped', 1, true), 'devpage.isolated')).toEqual(page('allocated', 0, true));
    // migrate_device_finalize's last put → dmirror_devmem_free
    expect(stepDevicePage(page('allocated'), 'devpage.freed')).toEqual(page('free'));
    expect(stepDevicePage(page('allocated', 0, true), 'devpage.freed')).toEqual(page('gone', 0, true));
    // dmirror_device_remove_chunks: a free page is unlinked for good, the others are marked
    expect(stepDevicePage(page('free'), 'chunk.removing')).toEqual(page('gone', 0, true));
    expect(stepDevicePage(page('allocated'), 'chunk.removing')).toEqual(page('allocated', 0, true));
    expect(stepDevicePage(page('mapped', 1), 'chunk.removing')).toEqual(page('mapped', 1, true));
    expect(stepDevicePage(page('mapped', 4), 'chunk.removing')).toEqual(page('mapped', 4, true));
  });

  it('refuses what the kernel never does to a device page', () => {
    // Mapping a free page (it has no struct page use yet: dmirror_devmem_alloc_page must come first).
    expect(stepDevicePage(page('free'), 'devpage.mapped')).toBeUndefined();
    // Freeing a mapped page (its entries still hold references), or a free one twice.
    expect(stepDevicePage(page('mapped', 1), 'devpage.freed')).toBeUndefined();
    expect(stepDevicePage(page('mapped', 2, true), 'devpage.freed')).toBeUndefined();
    expect(stepDevicePage(page('free'), 'devpage.freed')).toBeUndefined();
    // Unmapping a page no entry maps (a mapcount underflow), or a free one.
    expect(stepDevicePage(page('allocated'), 'devpage.unmapped')).toBeUndefined();
    expect(stepDevicePage(page('free'), 'devpage.unmapped')).toBeUndefined();
    // Handing out a page that is already out.
    expect(stepDevicePage(page('allocated'), 'devpage.allocated')).toBeUndefined();
    expect(stepDevicePage(page('mapped', 1), 'devpage.allocated')).toBeUndefined();
    // Isolating a page with no entry: collect and migrate_device_unmap only find mapped pages.
    expect(stepDevicePage(page('allocated'), 'devpage.isolated')).toBeUndefined();
    expect(stepDevicePage(page('free'), 'devpage.isolated')).toBeUndefined();
    // chunk->remove is set once.
    expect(stepDevicePage(page('allocated', 0, true), 'chunk.removing')).toBeUndefined();
    expect(stepDevicePage(page('mapped', 1, true), 'chunk.removing')).toBeUndefined();
    // A gone page takes nothing: its struct page went with memunmap_pages.
    for (const e of DEVICE_PAGE_EVENT_TYPES) expect(stepDevicePage(page('gone', 0, true), e), e).toBeUndefined();
    // State and context that cannot go together are not in the table.
    expect(stepDevicePage(page('mapped', 0), 'devpage.unmapped')).toBeUndefined();
    expect(stepDevicePage(page('free', 0, true), 'devpage.allocated')).toBeUndefined();
    expect(stepDevicePage(page('allocated', 2), 'devpage.mapped')).toBeUndefined();
  });

  it('frees a page at its last unmap, not before, and only then', () => {
    for (const n of [1, 2, 5]) {
      const mapped = run(page('free'), 'devpage.allocated', ...Array<EventType>(n).fill('devpage.mapped'));
      expect(mapped).toEqual(page('mapped', n));
      const down = (k: number): DevicePageMachineState | undefined => run(mapped as DevicePageMachineState, ...Array<EventType>(k).fill('devpage.unmapped'));
      expect(down(n - 1)).toEqual(page('mapped', 1));
      expect(down(n)).toEqual(page('free'));
      expect(down(n + 1)).toBeUndefined();
      // While its chunk is being removed the same last unmap makes it gone.
      expect(run(mapped as DevicePageMachineState, 'chunk.removing', ...Array<EventType>(n).fill('devpage.unmapped'))).toEqual(page('gone', 0, true));
      // A migration's unmapping keeps it (allocated) until its put.
      expect(run(mapped as DevicePageMachineState, 'devpage.isolated', 'devpage.freed')).toEqual(page('free'));
    }
  });

  test.prop([fc.array(fc.constantFrom(...DEVICE_PAGE_EVENT_TYPES), { maxLength: 40 })], { numRuns: 300 })(
    'the table (with its named actions) agrees with xstate transition() on random sequences, and keeps state and mapcount together',
    (types) => {
      let [snap] = initialTransition(devicePageMachine, { mapcount: 0, removing: false }) as [SnapshotFrom<typeof devicePageMachine>, unknown];
      let s: DevicePageMachineState = page('free');
      for (const type of types) {
        const accepted = devicePageMachine.getTransitionData(snap, { type }).length > 0;
        [snap] = transition(devicePageMachine, snap, { type }) as [SnapshotFrom<typeof devicePageMachine>, unknown];
        const next = stepDevicePage(s, type);
        expect(next !== undefined, `${s.state} ${s.mapcount} ${s.removing} ${type}`).toBe(accepted);
        s = next ?? s;
        expect(s.state).toBe(snap.value);
        expect({ mapcount: s.mapcount, removing: s.removing }).toEqual(snap.context);
        expect(s.state === 'mapped').toBe(s.mapcount > 0);
        if (s.state === 'free') expect(s.removing).toBe(false);
        if (s.state === 'gone') expect(s.removing).toBe(true);
      }
    },
  );
});

describe('the model steps the machine (src/kernel/hmm/devicePages.ts)', () => {
  it('the recorded hmm logs take only transitions of the table, among them allocation, mapping, fork, zap, migration back and chunk removal', () => {
    const dir = new URL('../traces-custom/hmm/', import.meta.url);
    const taken = new Set<string>();
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
      const file = new URL(name, dir);
      const r = replay(parseLogText(readFileSync(file, 'utf8'), file.pathname).map((l) => l.event), { check: checkAll(makeChecker()) });
      expect(r.divergences, name).toEqual([]);
      for (const st of r.steps) for (const t of st.transitions) if (t.startsWith('devicePage:')) taken.add(t);
    }
    const table = new Set(devicePageTable.entries().map((e) => `devicePage:${e.contextKey}:${e.source}:${e.event}`));
    for (const t of taken) expect(table.has(t), t).toBe(true);
    expect([...taken]).toEqual(
      expect.arrayContaining([
        'devicePage:unmapped:free:devpage.allocated',
        'devicePage:unmapped:allocated:devpage.mapped',
        'devicePage:sole:mapped:devpage.mapped',
        'devicePage:sole:mapped:devpage.unmapped',
        'devicePage:sole:mapped:devpage.isolated',
        'devicePage:shared:mapped:devpage.isolated',
        'devicePage:unmapped:allocated:devpage.freed',
        'devicePage:sole:mapped:chunk.removing',
        'devicePage:sole-removing:mapped:devpage.isolated',
        'devicePage:unmapped-removing:allocated:devpage.freed',
      ]),
    );
  });
});
