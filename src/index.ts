/**
 * memhp as a library: load and validate a log, replay it step by step, check
 * the invariants, render the views. The CLI (src/cli) is a thin layer over
 * these names.
 *
 * @example
 * import { parseLogText, Replayer, checkStep, renderIomem } from 'memhp';
 * const r = new Replayer({ check: checkStep });
 * for (const { event } of parseLogText(text, 'my.jsonl')) r.feed(event);
 * expect(r.violations).toEqual([]);
 * console.log(renderIomem(r.current.iomem));
 */
export * from './log/index.js';
export { Replayer, replay, applyEvent, applyBoot, sameOutcome } from './replay/engine.js';
export type { Step, Violation, Divergence, Checker, ReplayOptions, ReplayResult } from './replay/engine.js';
export { bootKernel } from './kernel/boot.js';
export type { KernelState, MemoryBlock, DaxDevice, DaxRegion, DaxRange, KmemData, MemoryGroup } from './kernel/state.js';
export { KERNEL_VERSIONS, PROFILES, VARIANTS, VARIANT_NAMES, makeProfile } from './kernel/profile.js';
export type { KernelVersion, Profile, ProfileSwitches, VariantName, VariantSwitches } from './kernel/profile.js';
export { DEFAULT_CONFIG, ONLINE_TYPES } from './kernel/config.js';
export type { BootConfig, OnlineType } from './kernel/config.js';
export { ERRNO, ERRNO_NAMES, type Errno } from './kernel/errno.js';
export { renderIomem, type Resource } from './kernel/resource.js';
export { readFile, writeFile, resolve as resolveSysfsPath } from './sysfs/surface.js';
export { renderMeminfo, memTotalKiB, zoneUsage } from './views/meminfo.js';
export { INVARIANTS, INVARIANT_NAMES, checkStep, makeChecker, invariantByName } from '../properties/invariants/index.js';
export type { Invariant, InvariantContext, CheckerOptions } from '../properties/invariants/index.js';
export { explore, type ExploreOptions, type ExploreResult, type ExploreFailure } from '../properties/explore.js';
export { GENERATORS, type OperationGenerator, type AlphabetScope } from '../properties/alphabet/index.js';
export { PRESETS, presetByName, withVariant, type Preset } from '../properties/presets.js';
export { chainedSuite, coverSuite, emitSuite, CoverTracker } from '../properties/conformance.js';
export * from '../machines/index.js';
export { PATCHES, PATCH_NAMES, type PatchName, type PatchSwitches } from './kernel/patches.js';
export { applyProgramEvent } from './syscalls/index.js';
export { renderMaps, renderSmaps, renderProcessMaps } from './views/smaps.js';
export { memmapRows, renderMemmap, type MemmapRow } from './views/memmap.js';
export { KNOWN_FINDINGS, KNOWN_SIGNATURES, signatureOf, findingOf, type KnownFinding } from '../properties/findings.js';
export type { MmState, Process, OpenFile, Vma, Pte, PteLevel } from './kernel/mm/types.js';
