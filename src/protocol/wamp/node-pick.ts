import type { NodeRegistration } from './dealer-messages.js';
import { UriMap } from './uri-map.js';

/** What `pickNode` draws on where the registrations alone do not decide. */
export interface NodeDraw {
  /**
   * `roundrobin`: the turn, below `slots`, of registration `key` (its match and URI) for this call;
   * the next call gets the following one.
   */
  turn(key: string, slots: number): number;
  /** `random`: a number in [0, 1). */
  random(): number;
}

/**
 * The node a CALL to `procedure` goes to, from every node's answer to the cluster's lookup: the node
 * with the cluster's best registration (exact, else the longest prefix, else the most specific
 * wildcard); when several nodes share it, its invocation policy over the callees of all of them
 * (`roundrobin` turns over the cluster's callees, `random` draws among them, `first` and `last` go to
 * the node of the oldest and the newest callee). That node's dealer picks the callee. Undefined when
 * no node has a registration for `procedure`.
 */
export function pickNode(
  procedure: string,
  found: readonly NodeRegistration[],
  draw: NodeDraw,
): string | undefined {
  const registrations = new UriMap<NodeRegistration[]>();
  for (const r of found) {
    const same = registrations.get(r.uri, r.match);
    if (same) same.push(r);
    else registrations.set(r.uri, r.match, [r]);
  }
  // In node order: the answers arrive in any order, the turns over the callees must not depend on it.
  const shared = registrations.best(procedure)?.sort((a, b) => (a.node < b.node ? -1 : 1));
  if (shared === undefined) return undefined;
  const [first] = shared as [NodeRegistration];
  if (shared.length === 1) return first.node;
  // The callees of all of them, node after node: slot `i` is a callee of the node it falls in.
  const slots = shared.reduce((sum, r) => sum + r.callees, 0);
  switch (first.invoke) {
    case 'roundrobin':
      return nodeOfSlot(shared, draw.turn(`${first.match} ${first.uri}`, slots));
    case 'first':
      return shared.reduce((a, b) => (b.oldest < a.oldest ? b : a)).node;
    case 'last':
      return shared.reduce((a, b) => (b.newest > a.newest ? b : a)).node;
    default:
      return nodeOfSlot(shared, Math.floor(draw.random() * slots));
  }
}

/** The node of callee `slot` of `shared`, counted node after node (no list of the callees is built). */
function nodeOfSlot(shared: readonly NodeRegistration[], slot: number): string | undefined {
  let left = slot;
  for (const r of shared) {
    if (left < r.callees) return r.node;
    left -= r.callees;
  }
  return undefined;
}

/** Round-robin cursors kept; past it they start over. */
const MAX_TURNS = 10_000;

/** A node's draws: round-robin cursors over the cluster's callees, by registration, and `Math.random`. */
export class NodeTurns implements NodeDraw {
  readonly #turns = new Map<string, number>();

  turn(key: string, slots: number): number {
    const turn = this.#turns.get(key) ?? 0;
    if (this.#turns.size >= MAX_TURNS) this.#turns.clear();
    this.#turns.set(key, (turn + 1) % slots);
    return turn % slots;
  }

  random(): number {
    return Math.random();
  }
}
