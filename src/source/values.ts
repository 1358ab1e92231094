/**
 * Column values as `row_to_json` renders them. pgoutput sends each value as its type's text output
 * (the walsender session runs with DateStyle ISO, IntervalStyle postgres, extra_float_digits 1);
 * Postgres's json.c then decides by the type's category whether that text is embedded raw, quoted,
 * reformatted, or taken apart (arrays, composites). Values are kept as JSON text fragments so that a
 * bigint or a 40-digit numeric reaches the payload digit for digit.
 */
import { arrayRenderer, vectorRenderer } from './values/arrays.js';
import { compositeRenderer } from './values/composites.js';
import { hstoreToJson } from './values/hstore.js';
import { jsonString, scalarRenderer, type ValueRenderer } from './values/scalars.js';
import type { TypeInfo } from './values/types.js';

export { jsonString, TypeOid, type ValueRenderer } from './values/scalars.js';
export { builtinType, dependencies, type TypeInfo } from './values/types.js';

export type TypeLookup = (oid: number) => TypeInfo | undefined;

/**
 * The renderer for a type, built once and kept in `memo` with those of the types it depends on,
 * following json_categorize_type: a domain renders as its base type, an array as nested JSON arrays
 * of its elements' renderings, a composite as an object of its fields' renderings. A type `lookup`
 * does not know renders as a JSON string of its text, which is what most types are.
 */
export function buildRenderer(
  oid: number,
  lookup: TypeLookup,
  memo: Map<number, ValueRenderer>,
): ValueRenderer {
  let render = memo.get(oid);
  if (render) return render;
  const info = lookup(oid);
  const dependency = (type: number) => buildRenderer(type, lookup, memo);
  render = info === undefined ? jsonString : fromInfo(oid, info, dependency);
  memo.set(oid, render);
  return render;
}

function fromInfo(oid: number, info: TypeInfo, dependency: (oid: number) => ValueRenderer): ValueRenderer {
  switch (info.kind) {
    case 'scalar':
      return scalarRenderer(oid);
    // json.c would call the cast function; without it, the text is the closest rendering.
    case 'cast':
    case 'text':
      return jsonString;
    case 'hstore':
      return hstoreToJson;
    case 'domain':
      return dependency(info.base);
    case 'array':
      return arrayRenderer(dependency(info.element), info.delimiter);
    case 'vector':
      return vectorRenderer(dependency(info.element));
    case 'composite':
      return compositeRenderer(
        info.fields.map((field) => ({ name: field.name, render: dependency(field.type) })),
      );
  }
}
