/**
 * A transition table derived, at load time, from an xstate machine
 * definition by asking xstate's own pure `transition()` about every leaf
 * state × event × context sample (the guard inputs). The model steps with
 * the table (a Map lookup) instead of xstate's interpreter; the machine
 * stays the single source of truth, and test/machines/table.test.ts checks
 * the table against `transition()` on random sequences.
 */
import { transition, type AnyStateMachine, type StateValue } from 'xstate';

export interface TableEntry<S extends string> {
  readonly target: S;
  /** Names of the actions the transition runs, in order. */
  readonly actions: readonly string[];
}

export interface StepTable<S extends string, E extends string> {
  readonly states: readonly S[];
  readonly events: readonly E[];
  readonly contexts: readonly string[];
  /** The transition taken, or undefined when the machine ignores the event in that state. */
  lookup(contextKey: string, state: S, event: E): TableEntry<S> | undefined;
  /** Every entry, for coverage denominators and graph tests. */
  entries(): ReadonlyArray<{ contextKey: string; source: S; event: E; entry: TableEntry<S> }>;
}

/** The leaf names of a machine with the state value each stands for. */
export function leafStates(machine: AnyStateMachine): Array<{ name: string; value: StateValue }> {
  const out: Array<{ name: string; value: StateValue }> = [];
  const rec = (node: AnyStateMachine['root'], path: string[]): void => {
    const children = Object.values(node.states) as Array<AnyStateMachine['root']>;
    if (children.length === 0) {
      let value: StateValue = path[path.length - 1] as string;
      for (let i = path.length - 2; i >= 0; i--) value = { [path[i] as string]: value };
      out.push({ name: path[path.length - 1] as string, value });
      return;
    }
    for (const c of children) rec(c, [...path, c.key]);
  };
  rec(machine.root, []);
  return out;
}

/** The leaf name of a (possibly nested) state value. */
export function leafName(value: StateValue): string {
  let v: StateValue = value;
  while (typeof v !== 'string') {
    const keys = Object.keys(v);
    if (keys.length !== 1) throw new Error(`model bug: parallel state value ${JSON.stringify(value)}`);
    v = v[keys[0] as string] as StateValue;
  }
  return v;
}

export interface DeriveInput<E extends { type: string }> {
  readonly machine: AnyStateMachine;
  /** One sample event per event type (payloads do not affect targets or guards in our machines). */
  readonly sampleEvents: readonly E[];
  /**
   * Contexts to evaluate guards under, each with a key, and the leaf states
   * the machine can be in with that context (all when absent): a pair that
   * cannot occur gets no entries, so coverage counts only real transitions.
   */
  readonly contexts: ReadonlyArray<{ key: string; context: object; states?: readonly string[] }>;
}

export function deriveTable<S extends string, E extends { type: string }>(input: DeriveInput<E>): StepTable<S, E['type']> {
  const leaves = leafStates(input.machine);
  const map = new Map<string, TableEntry<S>>();
  const all: Array<{ contextKey: string; source: S; event: E['type']; entry: TableEntry<S> }> = [];
  for (const { key, context, states } of input.contexts) {
    for (const name of states ?? []) {
      if (!leaves.some((l) => l.name === name)) throw new Error(`model bug: context ${key} names ${name}, which is no leaf state`);
    }
    for (const leaf of leaves) {
      if (states !== undefined && !states.includes(leaf.name)) continue;
      const snapshot = input.machine.resolveState({ value: leaf.value, context });
      for (const ev of input.sampleEvents) {
        const taken = input.machine.getTransitionData(snapshot as never, ev as never);
        if (taken.length === 0) continue;
        const [next] = transition(input.machine, snapshot as never, ev as never);
        const actions = taken.flatMap((t: { actions: readonly unknown[] }) => t.actions.map(actionName));
        const entry: TableEntry<S> = { target: leafName(next.value) as S, actions };
        map.set(`${key}|${leaf.name}|${ev.type}`, entry);
        all.push({ contextKey: key, source: leaf.name as S, event: ev.type, entry });
      }
    }
  }
  return {
    states: leaves.map((l) => l.name as S),
    events: input.sampleEvents.map((e) => e.type),
    contexts: input.contexts.map((c) => c.key),
    lookup: (contextKey, state, event) => map.get(`${contextKey}|${state}|${event}`),
    entries: () => all,
  };
}

function actionName(a: unknown): string {
  if (typeof a === 'string') return a;
  if (typeof a === 'object' && a !== null && 'type' in a && typeof (a as { type: unknown }).type === 'string') return (a as { type: string }).type;
  throw new Error('model bug: machine actions must be named');
}
