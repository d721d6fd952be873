#!/usr/bin/env node
// memhp: the TypeScript sources run directly through tsx's ESM loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/run.ts');
