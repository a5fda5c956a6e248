/**
 * How deep a payload element may nest. The MessagePack encoder (`@msgpack/msgpack`, `maxDepth` 100)
 * refuses to encode a value deeper than this, counting the element itself as level 1 and a scalar
 * inside the innermost container as a level too. A payload the router accepts must be deliverable to
 * a peer on every serializer, so `Arguments` and `ArgumentsKw` are held to the same bound at ingress
 * (docs/wamp.md, "What the router implements").
 */
export const MAX_PAYLOAD_DEPTH = 100;

/**
 * Whether `value` nests deeper than `max` levels (a scalar is one level, a container one more than its
 * deepest element). Walks without recursion, so that a value deep enough to overflow the stack is
 * measured too; stops at the first element past the bound.
 */
export function exceedsDepth(value: unknown, max = MAX_PAYLOAD_DEPTH): boolean {
  const containers: object[] = [];
  const depths: number[] = [];
  const visit = (v: unknown, depth: number): boolean => {
    if (depth > max) return true;
    if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
      containers.push(v);
      depths.push(depth);
    }
    return false;
  };
  if (visit(value, 1)) return true;
  while (containers.length > 0) {
    const container = containers.pop()!;
    const depth = depths.pop()! + 1;
    for (const child of Array.isArray(container) ? container : Object.values(container)) {
      if (visit(child, depth)) return true;
    }
  }
  return false;
}
