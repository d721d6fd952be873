#!/usr/bin/env node
// memhp: the TypeScript sources run directly through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
// V8 settings before any model code runs (why: src/runtime/v8.ts).
const { tuneV8 } = await import('../src/runtime/v8.ts');
tuneV8();
await import('../src/cli/run.ts');
