/**
 * Copying parsed payload data key by key. Pure.
 *
 * `Object.fromEntries` makes every key an own data property, "__proto__" included; plain
 * assignment (`out[key] = value`) would set the object's prototype instead. The walks over
 * untrusted input build their copies with `setOwn`, which keeps fromEntries' meaning without
 * building an array of pairs per object.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}
