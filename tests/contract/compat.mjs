// Backward compatibility of an event schema with its previous release, within
// one type version (docs/events.md#schema-evolution):
//
//   incompatibilities(released, current) -> ["$.data.reason: enum lost 'x'", ...]
//
// A schema is compatible when it accepts every document the released one
// accepted: a consumer built on it still reads what producers built on the
// release send. So, within a version: no property removed, none newly
// required, no type narrowed, no enum value dropped, no bound tightened, no
// pattern, format, const or $ref changed, and additionalProperties never closed.
// Adding an optional property is compatible (consumers deploy first, so the
// strict ones know it before any producer sends it). Anything else needs a new
// type version (a new schema file, v2), which has no release to compare.
// Annotations (description, examples, title) may change freely.

const ANNOTATIONS = new Set(['description', 'examples', 'title', '$comment', 'x-orderly-type', 'x-orderly-version', '$schema', '$id', 'deprecated']);
const LOWER = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'];
const UPPER = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'];
const SAME = ['pattern', 'format', 'const', '$ref', 'multipleOf', 'uniqueItems', 'contentMediaType'];

const types = (s) => (s.type === undefined ? null : Array.isArray(s.type) ? s.type : [s.type]);
const show = (v) => JSON.stringify(v);

export function incompatibilities(released, current, path = '$') {
  const out = [];
  const bad = (msg) => out.push(`${path}: ${msg}`);
  if (typeof released !== 'object' || released === null) return out;
  if (typeof current !== 'object' || current === null) return [`${path}: the schema is gone`];

  const rt = types(released);
  const ct = types(current);
  if (rt && !ct) {
    // widened to any type: fine
  } else if (ct) {
    if (!rt) bad(`type narrowed from any to ${show(ct)}`);
    else for (const t of rt) if (!ct.includes(t) && !(t === 'integer' && ct.includes('number'))) bad(`type ${t} no longer accepted (now ${show(ct)})`);
  }
  if (released.enum) {
    if (!current.enum) {
      // any value now: fine
    } else for (const v of released.enum) if (!current.enum.some((w) => show(w) === show(v))) bad(`enum lost ${show(v)}`);
  } else if (current.enum) bad(`enum added ${show(current.enum)}`);
  for (const k of LOWER) {
    if (current[k] === undefined) continue;
    if (released[k] === undefined || current[k] > released[k]) bad(`${k} raised from ${released[k] ?? 'none'} to ${current[k]}`);
  }
  for (const k of UPPER) {
    if (current[k] === undefined) continue;
    if (released[k] === undefined || current[k] < released[k]) bad(`${k} lowered from ${released[k] ?? 'none'} to ${current[k]}`);
  }
  for (const k of SAME) if (show(released[k]) !== show(current[k])) bad(`${k} changed from ${show(released[k])} to ${show(current[k])}`);

  // Objects: properties, required, additionalProperties.
  const rp = released.properties ?? {};
  const cp = current.properties ?? {};
  for (const [name, sub] of Object.entries(rp)) {
    if (!(name in cp)) {
      if (current.additionalProperties === false) bad(`property ${name} removed`);
      continue;
    }
    out.push(...incompatibilities(sub, cp[name], `${path}.${name}`));
  }
  const rreq = new Set(released.required ?? []);
  for (const name of current.required ?? []) if (!rreq.has(name)) bad(`${name} is newly required`);
  if (released.additionalProperties !== false && current.additionalProperties === false) bad('additionalProperties closed');
  if (typeof released.additionalProperties === 'object' && typeof current.additionalProperties === 'object')
    out.push(...incompatibilities(released.additionalProperties, current.additionalProperties, `${path}.*`));

  // Arrays and combinators.
  if (released.items || current.items) out.push(...incompatibilities(released.items ?? {}, current.items ?? {}, `${path}[]`));
  for (const k of ['oneOf', 'anyOf', 'allOf']) {
    if (show(released[k]) === show(current[k])) continue;
    if (k === 'allOf' || !released[k] || !current[k]) bad(`${k} changed`);
    // A oneOf/anyOf may gain branches: each released branch must still be there.
    else for (const b of released[k]) if (!current[k].some((c) => incompatibilities(b, c).length === 0)) bad(`${k} lost the branch ${show(b).slice(0, 80)}`);
  }
  if (released.$defs || current.$defs) {
    for (const [name, def] of Object.entries(released.$defs ?? {}))
      out.push(...incompatibilities(def, (current.$defs ?? {})[name], `${path}.$defs.${name}`));
  }
  // Keywords this checker does not understand are compared whole: a change is flagged.
  const known = new Set([...ANNOTATIONS, ...LOWER, ...UPPER, ...SAME, 'type', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'oneOf', 'anyOf', 'allOf', '$defs']);
  for (const k of new Set([...Object.keys(released), ...Object.keys(current)]))
    if (!known.has(k) && show(released[k]) !== show(current[k])) bad(`${k} changed (not understood: treated as incompatible)`);
  return out;
}
